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

/// Linux's hmat_normalize: entry × base; revision 2 latencies are picoseconds (→ ns, rounded up), revision 1
/// values are in tenths.
let normalize (revision: byte) (isLatency: bool) (baseUnit: uint64) (entry: uint16) =
    match SsiHv.Core.Numa.HmatEncoding.decode baseUnit entry with
    | None -> None
    | Some value when revision = 1uy -> Some((value + 9UL) / 10UL)
    | Some value when isLatency -> Some((value + 999UL) / 1000UL)
    | Some value -> Some value

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
    let srat = d.Srat |> Option.map (fun s -> s.Entries) |> Option.defaultValue []
    let cpus =
        srat |> List.choose (function
            | Srat.ProcessorApic p when enabled p.Flags -> Some(p.Domain, uint32 p.ApicId)
            | Srat.ProcessorX2Apic x when enabled x.Flags -> Some(x.Domain, x.X2ApicId)
            | _ -> None)
    let memory =
        srat |> List.choose (function Srat.Memory m when enabled m.Flags && m.Length > 0UL -> Some(m.Domain, (m.Base, m.Length)) | _ -> None)
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
