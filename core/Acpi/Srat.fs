/// System Resource Affinity Table, revision 3 (ACPI 6.5 §5.2.16): which proximity domain each CPU and each
/// memory range belongs to. Proximity domain = topology node id.
module SsiHv.Core.Acpi.Srat

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Topology
open SsiHv.Core.Memory

let signature = "SRAT"
/// Table revision 3 is the one ACPI 6.x defines. The revision matters: Linux reads revision 1 and older with
/// 8-bit proximity domains (`linuxDomain`), while 3 carries the full 32 bits.
let revision = 3uy
let enabledFlag = 1u
/// APIC IDs from here on need x2APIC affinity structures: 0xFF is the xAPIC broadcast ID.
let firstX2ApicId = 255u

type ProcessorApicAffinity = { Domain: uint32; ApicId: byte; Flags: uint32; SapicEid: byte; ClockDomain: uint32 }
type MemoryAffinity = { Domain: uint32; Base: uint64; Length: uint64; Flags: uint32 }
type ProcessorX2ApicAffinity = { Domain: uint32; X2ApicId: uint32; Flags: uint32; ClockDomain: uint32 }

type SratEntry =
    | ProcessorApic of ProcessorApicAffinity
    | Memory of MemoryAffinity
    | ProcessorX2Apic of ProcessorX2ApicAffinity
    /// Another structure type (GICC, generic initiator, ...): kept whole so foreign tables parse.
    | OtherSrat of kind: byte * raw: byte list

type Srat = { Header: Header.Header; Entries: SratEntry list }

/// 4 bytes that must be 1 "for backward compatibility", then 8 reserved.
let private prologue = Array.concat [ u32 1u; zeros 8 ]

let private serializeEntry =
    function
    | ProcessorApic p ->
        Array.concat
            [ u8 0uy; u8 16uy; u8 (byte (p.Domain &&& 0xFFu)); u8 p.ApicId; u32 p.Flags; u8 p.SapicEid
              (u32 (p.Domain >>> 8)).[0..2]; u32 p.ClockDomain ]
    | Memory m ->
        Array.concat [ u8 1uy; u8 40uy; u32 m.Domain; zeros 2; u64 m.Base; u64 m.Length; zeros 4; u32 m.Flags; zeros 8 ]
    | ProcessorX2Apic x ->
        Array.concat [ u8 2uy; u8 24uy; zeros 2; u32 x.Domain; u32 x.X2ApicId; u32 x.Flags; u32 x.ClockDomain; zeros 4 ]
    | OtherSrat(kind, raw) -> Array.concat [ u8 kind; u8 (byte (List.length raw + 2)); Array.ofList raw ]

/// The proximity domain of an entry as Linux reads it. For SRAT revision 1 and older (ACPI 2.0's table) Linux
/// keeps only the low 8 bits of a memory entry's domain and only the low byte of a processor entry's, ignoring
/// its high 24 bits (`acpi_srat_revision <= 1` in drivers/acpi/numa/srat.c, `>= 2` in arch/x86/mm/srat.c).
/// x2APIC entries came later and are always read whole.
let linuxDomain (tableRevision: byte) (entry: SratEntry) : uint32 option =
    let asRevisionAllows domain = if tableRevision <= 1uy then domain &&& 0xFFu else domain
    match entry with
    | ProcessorApic p -> Some(asRevisionAllows p.Domain)
    | Memory m -> Some(asRevisionAllows m.Domain)
    | ProcessorX2Apic x -> Some x.Domain
    | OtherSrat _ -> None

let serialize (t: Srat) =
    Header.serialize t.Header (Array.concat (prologue :: List.map serializeEntry t.Entries))

let private expectLength (offset: int) (kind: byte) (expected: int) (body: byte[]) =
    if body.Length = expected then Ok()
    else fail signature offset (String.Format("affinity structure type {0} must be {1} bytes long, found {2}", kind, expected, body.Length))

let private parseEntry (kind: byte, offset: int, body: byte[]) : Result<SratEntry, AcpiError> =
    let r f at = f signature body at
    result {
        match kind with
        | 0uy ->
            do! expectLength offset kind 16 body
            let! low = r readU8 2
            let! apicId = r readU8 3
            let! flags = r readU32 4
            let! eid = r readU8 8
            let! high = r readU32 8
            let! clock = r readU32 12
            return ProcessorApic { Domain = uint32 low ||| (high &&& 0xFFFFFF00u); ApicId = apicId; Flags = flags; SapicEid = eid; ClockDomain = clock }
        | 1uy ->
            do! expectLength offset kind 40 body
            let! domain = r readU32 2
            let! baseAddress = r readU64 8
            let! length = r readU64 16
            let! flags = r readU32 28
            return Memory { Domain = domain; Base = baseAddress; Length = length; Flags = flags }
        | 2uy ->
            do! expectLength offset kind 24 body
            let! domain = r readU32 4
            let! id = r readU32 8
            let! flags = r readU32 12
            let! clock = r readU32 16
            return ProcessorX2Apic { Domain = domain; X2ApicId = id; Flags = flags; ClockDomain = clock }
        | other -> return OtherSrat(other, body.[2..] |> List.ofArray)
    }

let parse (bytes: byte[]) : Result<Srat, AcpiError> =
    result {
        let! header, _ = Header.parse signature bytes
        let! _ = readBytes signature bytes Header.size prologue.Length
        let! items =
            splitSubtables signature bytes (Header.size + prologue.Length) 2 (fun at -> readU8 signature bytes (at + 1) |> Result.map int)
        let! entries = traverse parseEntry items
        return { Header = header; Entries = entries }
    }

/// One affinity structure per CPU (APIC ID = CPU index) and one per memory range of the layout.
let ofTopology (t: Topology) =
    let cpus =
        Topology.cpuNodes t
        |> List.mapi (fun cpu node ->
            if uint32 cpu < firstX2ApicId then
                ProcessorApic { Domain = uint32 node.Value; ApicId = byte cpu; Flags = enabledFlag; SapicEid = 0uy; ClockDomain = 0u }
            else
                ProcessorX2Apic { Domain = uint32 node.Value; X2ApicId = uint32 cpu; Flags = enabledFlag; ClockDomain = 0u })
    let memory =
        Layout.ranges t
        |> List.map (fun r -> Memory { Domain = uint32 r.Node.Value; Base = r.Base; Length = r.Length; Flags = enabledFlag })
    { Header = Header.ours signature revision; Entries = cpus @ memory }
