/// The NUMA machine a guest OS reconstructs from SRAT, SLIT and HMAT, computed the way Linux does it (enabled
/// entries only; HMAT values normalized to ns and MB/s as drivers/acpi/numa/hmat.c does). `acpi show`
/// prints it, and tests compare it with the topology, with QEMU's tables and with what Linux reports.
module SsiHv.Core.Acpi.NumaView

open SsiHv.Core.Acpi.TableSet

type NodeView =
    { Domain: uint32
      ApicIds: uint32 list
      /// (base, length) of every enabled memory range of the domain, in address order.
      Ranges: (uint64 * uint64) list
      MemoryBytes: uint64
      /// From HMAT's memory proximity domain attributes, when the initiator-valid flag is set.
      Initiator: uint32 option }

type AccessView = { Initiator: uint32; Target: uint32; LatencyNs: uint64 option; BandwidthMBps: uint64 option }

type CacheView =
    { Domain: uint32; SizeBytes: uint64; Level: int; TotalLevels: int; Associativity: int; WritePolicy: int; LineBytes: int }

type NumaView =
    { Nodes: NodeView list
      Distances: int list list option
      Access: AccessView list
      Caches: CacheView list }

let private enabled (flags: uint32) = flags &&& Srat.enabledFlag <> 0u

/// Linux's hmat_normalize (drivers/acpi/numa/hmat.c), in its 32-bit arithmetic, with 0 ("no value") as None:
/// entries 0 and 0xFFFF carry nothing; entry × base above UINT_MAX is dropped; revision 1 values are tenths
/// (below 10 dropped); revision 2 latencies are picoseconds, rounded up to ns. DIV_ROUND_UP's `value + d - 1`
/// wraps in u32 for values within d - 1 of UINT_MAX, which yields 0, so those are dropped as well. Linux
/// ignores an HMAT of any other revision.
let normalize (revision: byte) (isLatency: bool) (baseUnit: uint64) (entry: uint16) : uint64 option =
    let divRoundUp (value: uint32) (divisor: uint32) = (value + divisor - 1u) / divisor
    if entry = 0us || entry = 0xFFFFus then None
    elif baseUnit > uint64 System.UInt32.MaxValue / uint64 entry then None
    else
        let value = uint32 (uint64 entry * baseUnit)
        let normalized =
            match revision with
            | 1uy when value < 10u -> 0u
            | 1uy -> divRoundUp value 10u
            | 2uy when isLatency -> divRoundUp value 1000u
            | 2uy -> value
            | _ -> 0u
        if normalized = 0u then None else Some(uint64 normalized)

let private localityValues (hmat: Hmat.Hmat) (wanted: Hmat.LocalityDataType list) (isLatency: bool) =
    hmat.Entries
    |> List.choose (function
        | Hmat.Locality l when List.contains l.DataType wanted && l.Flags &&& 0x0Fuy = Hmat.memoryHierarchy -> Some l
        | _ -> None)
    |> List.collect (fun l ->
        List.zip l.Initiators l.Entries
        |> List.collect (fun (i, row) ->
            List.zip l.Targets row
            |> List.choose (fun (target, e) -> normalize hmat.Header.Revision isLatency l.BaseUnit e |> Option.map (fun v -> (i, target), v))))
    |> Map.ofList

let ofTables (d: DecodedTables) : NumaView =
    // Each entry with its domain as Linux reads it, which for a revision-1 SRAT (QEMU's) is 8 bits wide.
    let srat =
        d.Srat
        |> Option.map (fun s -> s.Entries |> List.choose (fun e -> Srat.linuxDomain s.Header.Revision e |> Option.map (fun domain -> domain, e)))
        |> Option.defaultValue []
    let cpus =
        srat |> List.choose (function
            | domain, Srat.ProcessorApic p when enabled p.Flags -> Some(domain, uint32 p.ApicId)
            | domain, Srat.ProcessorX2Apic x when enabled x.Flags -> Some(domain, x.X2ApicId)
            | _ -> None)
    let memory =
        srat |> List.choose (function
            | domain, Srat.Memory m when enabled m.Flags && m.Length > 0UL -> Some(domain, (m.Base, m.Length))
            | _ -> None)
    let hmatEntries = d.Hmat |> Option.map (fun h -> h.Entries) |> Option.defaultValue []
    let initiators =
        hmatEntries
        |> List.choose (function
            | Hmat.DomainAttributes a when a.Flags &&& Hmat.initiatorValidFlag <> 0us -> Some(a.MemoryDomain, a.InitiatorDomain)
            | _ -> None)
        |> Map.ofList
    let domains = (List.map fst cpus @ List.map fst memory) |> List.distinct |> List.sort
    let nodes =
        domains |> List.map (fun domain ->
            let ranges = memory |> List.filter (fst >> (=) domain) |> List.map snd |> List.sortBy fst
            { Domain = domain
              ApicIds = cpus |> List.filter (fst >> (=) domain) |> List.map snd
              Ranges = ranges
              MemoryBytes = ranges |> List.sumBy snd
              Initiator = Map.tryFind domain initiators })
    let access =
        match d.Hmat with
        | None -> []
        | Some hmat ->
            let latency = localityValues hmat [ Hmat.LocalityDataType.AccessLatency; Hmat.LocalityDataType.ReadLatency ] true
            let bandwidth = localityValues hmat [ Hmat.LocalityDataType.AccessBandwidth; Hmat.LocalityDataType.ReadBandwidth ] false
            (Map.keys latency |> List.ofSeq) @ (Map.keys bandwidth |> List.ofSeq)
            |> List.distinct
            |> List.sort
            |> List.map (fun (i, t) ->
                { Initiator = i; Target = t; LatencyNs = Map.tryFind (i, t) latency; BandwidthMBps = Map.tryFind (i, t) bandwidth })
    let caches =
        hmatEntries |> List.choose (function
            | Hmat.Cache c ->
                let a = c.Attributes
                Some { Domain = c.MemoryDomain; SizeBytes = c.SizeBytes; TotalLevels = int (a &&& 0xFu); Level = int ((a >>> 4) &&& 0xFu)
                       Associativity = int ((a >>> 8) &&& 0xFu); WritePolicy = int ((a >>> 12) &&& 0xFu); LineBytes = int (a >>> 16) }
            | _ -> None)
    { Nodes = nodes
      Distances = d.Slit |> Option.map (fun s -> s.Distances |> List.map (List.map int))
      Access = access
      Caches = caches }
