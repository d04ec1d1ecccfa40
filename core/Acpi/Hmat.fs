/// Heterogeneous Memory Attribute Table, revision 2 (ACPI 6.5 §5.2.28): per memory domain its initiator,
/// latency and bandwidth from each initiator to each target, and memory-side caches.
module SsiHv.Core.Acpi.Hmat

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Topology
open SsiHv.Core.Numa

let signature = "HMAT"
/// Revision 2 (ACPI 6.3+): latency base unit in picoseconds, which Linux's hmat_normalize expects.
let revision = 2uy

type MemoryDomainAttributes =
    { Flags: uint16
      InitiatorDomain: uint32
      MemoryDomain: uint32 }

/// Data types of a System Locality Latency and Bandwidth structure (ACPI 6.5 table 5.150).
type LocalityDataType =
    | AccessLatency = 0uy
    | ReadLatency = 1uy
    | WriteLatency = 2uy
    | AccessBandwidth = 3uy
    | ReadBandwidth = 4uy
    | WriteBandwidth = 5uy

/// Entries are indexed [initiator row][target column], in the order of the two domain lists, so the
/// matrix is |Initiators| × |Targets| and need not be square (memory-only targets).
type LocalityInfo =
    { Flags: byte
      DataType: LocalityDataType
      MinTransferSize: byte
      BaseUnit: uint64
      Initiators: uint32 list
      Targets: uint32 list
      Entries: uint16 list list }

type MemorySideCacheInfo =
    { MemoryDomain: uint32
      SizeBytes: uint64
      Attributes: uint32
      SmbiosHandles: uint16 list }

type HmatEntry =
    | DomainAttributes of MemoryDomainAttributes
    | Locality of LocalityInfo
    | Cache of MemorySideCacheInfo
    | OtherHmat of kind: uint16 * raw: byte list

type Hmat = { Header: Header.Header; Entries: HmatEntry list }

/// MemoryDomainAttributes.Flags bit 0: InitiatorDomain holds a valid domain.
let initiatorValidFlag = 1us
/// LocalityInfo.Flags bits 0..3: the memory hierarchy the values describe; 0 = the memory itself.
let memoryHierarchy = 0uy

let private subtableHeader (kind: uint16) (length: int) = Array.concat [ u16 kind; zeros 2; u32 (uint32 length) ]

let private serializeEntry =
    function
    | DomainAttributes a ->
        Array.concat [ subtableHeader 0us 40; u16 a.Flags; zeros 2; u32 a.InitiatorDomain; u32 a.MemoryDomain; zeros 20 ]
    | Locality l ->
        let body =
            Array.concat
                [ u8 l.Flags; u8 (byte l.DataType); u8 l.MinTransferSize; zeros 1
                  u32 (uint32 (List.length l.Initiators)); u32 (uint32 (List.length l.Targets)); zeros 4; u64 l.BaseUnit
                  Array.concat (List.map u32 l.Initiators); Array.concat (List.map u32 l.Targets)
                  Array.concat (l.Entries |> List.concat |> List.map u16) ]
        Array.append (subtableHeader 1us (8 + body.Length)) body
    | Cache c ->
        let body =
            Array.concat
                [ u32 c.MemoryDomain; zeros 4; u64 c.SizeBytes; u32 c.Attributes; zeros 2
                  u16 (uint16 (List.length c.SmbiosHandles)); Array.concat (List.map u16 c.SmbiosHandles) ]
        Array.append (subtableHeader 2us (8 + body.Length)) body
    | OtherHmat(kind, raw) -> Array.append (subtableHeader kind (8 + List.length raw)) (Array.ofList raw)

let serialize (t: Hmat) =
    Header.serialize t.Header (Array.concat (zeros 4 :: List.map serializeEntry t.Entries))

let private parseLocality (offset: int) (body: byte[]) =
    let r f at = f signature body at
    result {
        let! flags = r readU8 8
        let! dataType = r readU8 9
        let! minTransfer = r readU8 10
        let! initiatorCount = r readU32 12
        let! targetCount = r readU32 16
        let! baseUnit = r readU64 24
        let expected = 32L + 4L * int64 initiatorCount + 4L * int64 targetCount + 2L * int64 initiatorCount * int64 targetCount
        if dataType > 5uy then
            return! fail signature (offset + 9) (String.Format("data type {0} is not one of 0..5", dataType))
        elif expected <> int64 body.Length then
            return! fail signature offset
                        (String.Format("{0} initiators × {1} targets need a {2}-byte structure, its length is {3}", initiatorCount, targetCount, expected, body.Length))
        else
            let m, n = int initiatorCount, int targetCount
            let readAll start count width reader = traverse (fun i -> r reader (start + width * i)) [ 0 .. count - 1 ]
            let! initiators = readAll 32 m 4 readU32
            let! targets = readAll (32 + 4 * m) n 4 readU32
            let! flat = readAll (32 + 4 * m + 4 * n) (m * n) 2 readU16
            return
                Locality
                    { Flags = flags; DataType = LanguagePrimitives.EnumOfValue<byte, LocalityDataType> dataType; MinTransferSize = minTransfer
                      BaseUnit = baseUnit; Initiators = initiators; Targets = targets
                      Entries = if n = 0 then List.replicate m [] else List.chunkBySize n flat }
    }

let private parseEntry (kind: byte, offset: int, body: byte[]) : Result<HmatEntry, AcpiError> =
    let r f at = f signature body at
    result {
        let! structureType = r readU16 0
        match structureType with
        | 0us ->
            if body.Length <> 40 then
                return! fail signature offset (String.Format("memory proximity domain attributes must be 40 bytes, found {0}", body.Length))
            else
                let! flags = r readU16 8
                let! initiator = r readU32 12
                let! memory = r readU32 16
                return DomainAttributes { Flags = flags; InitiatorDomain = initiator; MemoryDomain = memory }
        | 1us -> return! parseLocality offset body
        | 2us ->
            let! handleCount = r readU16 30
            if body.Length <> 32 + 2 * int handleCount then
                return! fail signature offset
                            (String.Format("a memory-side cache with {0} SMBIOS handles must be {1} bytes, found {2}", handleCount, (32 + 2 * int handleCount), body.Length))
            else
                let! memory = r readU32 8
                let! size = r readU64 16
                let! attributes = r readU32 24
                let! handles = traverse (fun i -> r readU16 (32 + 2 * i)) [ 0 .. int handleCount - 1 ]
                return Cache { MemoryDomain = memory; SizeBytes = size; Attributes = attributes; SmbiosHandles = handles }
        | other -> return OtherHmat(other, body.[8..] |> List.ofArray)
    }

let parse (bytes: byte[]) : Result<Hmat, AcpiError> =
    result {
        let! header, _ = Header.parse signature bytes
        let! _ = readBytes signature bytes Header.size 4
        let lengthAt at =
            readU32 signature bytes (at + 4) |> Result.map (fun l -> if l > uint32 System.Int32.MaxValue then -1 else int l)
        let! items = splitSubtables signature bytes (Header.size + 4) 8 lengthAt
        let! entries = traverse parseEntry items
        return { Header = header; Entries = entries }
    }

/// Cache Attributes (ACPI 6.5 table 5.153): total levels, this level, associativity, write policy, line size.
let cacheAttributes (totalLevels: int) (c: MemorySideCache) =
    let associativity = match c.Associativity with NoneIndexed -> 0u | DirectMapped -> 1u | ComplexIndexed -> 2u
    let policy = match c.WritePolicy with NoWritePolicy -> 0u | WriteBack -> 1u | WriteThrough -> 2u
    uint32 totalLevels ||| (uint32 c.Level <<< 4) ||| (associativity <<< 8) ||| (policy <<< 12) ||| (uint32 c.LineBytes <<< 16)

/// One latency/bandwidth structure: initiators = nodes with CPUs, targets = nodes with memory, like QEMU.
let private locality (t: Topology) (dataType: LocalityDataType) (values: int64 list list) (scale: int64) =
    let initiators = Topology.initiatorNodes t |> List.map (fun n -> uint32 n.Id.Value)
    let targets = Topology.memoryNodes t |> List.map (fun n -> uint32 n.Id.Value)
    let used = HmatEncoding.usedEntries t.Nodes values |> List.map (List.map (fun v -> v * scale))
    match HmatEncoding.encode used with
    | Ok encoded ->
        Ok(Locality { Flags = memoryHierarchy; DataType = dataType; MinTransferSize = 0uy; BaseUnit = encoded.BaseUnit
                      Initiators = initiators; Targets = targets; Entries = encoded.Entries })
    | Error e -> Error e

/// The HMAT of a validated topology. Validation has already proven that the values encode, so an Error here
/// would be a bug; it is still returned as a value rather than thrown.
let ofTopology (t: Topology) : Result<Hmat, string> =
    let attributes =
        Topology.memoryNodes t
        |> List.map (fun n ->
            DomainAttributes
                { Flags = (if n.Initiator.IsSome then initiatorValidFlag else 0us)
                  InitiatorDomain = n.Initiator |> Option.map (fun initiator -> uint32 initiator.Value) |> Option.defaultValue 0u
                  MemoryDomain = uint32 n.Id.Value })
    let latency = t.LatencyNs |> Option.map (fun m -> locality t LocalityDataType.AccessLatency m HmatEncoding.picosecondsPerNanosecond)
    let bandwidth = t.BandwidthMBps |> Option.map (fun m -> locality t LocalityDataType.AccessBandwidth m 1L)
    let caches =
        t.Caches
        |> List.sortBy (fun c -> c.Node, c.Level)
        |> List.map (fun c ->
            let totalLevels = t.Caches |> List.filter (fun o -> o.Node = c.Node) |> List.map (fun o -> o.Level) |> List.max
            Cache { MemoryDomain = uint32 c.Node.Value; SizeBytes = c.SizeBytes; Attributes = cacheAttributes totalLevels c; SmbiosHandles = [] })
    match [ latency; bandwidth ] |> List.choose id |> traverse id with
    | Ok structures -> Ok { Header = Header.ours signature revision; Entries = attributes @ structures @ caches }
    | Error e -> Error e
