/// Every rule of docs/design.md §4.2, checked in one pass that reports all broken rules, each with its field path.
module SsiHv.Core.Topology.Validation

open System
open SsiHv.Core.Numa

/// Limits that keep every table inside the sizes the ACPI structures and our layout allow.
let maxNodes = 64
let maxCpus = 1024
/// 16 TiB: far beyond a test host, small enough that byte counts never overflow.
let maxTotalMemoryMiB = 16L * 1024L * 1024L
/// The first memory node also holds the legacy first MiB (640 KiB RAM + the 640K–1M hole).
let minFirstNodeMemoryMiB = 2L

let private err path message = { Path = path; Message = message }

let private nodePath i field = String.Format("nodes[{0}].{1}", i, field)

let private required path (value: 'a option) = match value with Some v -> Ok v | None -> Error [ err path "required" ]

let private collectErrors (checks: TopologyError list list) = List.concat checks

/// Shape N×N, and every entry passes `entryOk`; reports each bad row or entry once.
let private checkMatrix (field: string) (n: int) (entryRule: int -> int -> int64 -> string option) (m: int64 list list) =
    if List.length m <> n then
        [ err field (String.Format("must have {0} rows (one per node), found {1}", n, (List.length m))) ]
    else
        m
        |> List.mapi (fun i row ->
            if List.length row <> n then
                [ err (String.Format("{0}[{1}]", field, i)) (String.Format("must have {0} entries (one per node), found {1}", n, (List.length row))) ]
            else
                row |> List.mapi (fun j v -> entryRule i j v |> Option.map (err (String.Format("{0}[{1}][{2}]", field, i, j)))) |> List.choose id)
        |> List.concat

let private validateNode (count: int) (i: int) (spec: NodeSpec) : Result<Node, TopologyError list> =
    let idErrors, id =
        match spec.Id with
        | None -> [ err (nodePath i "id") "required" ], -1
        | Some id when id < 0 || id >= count ->
            [ err (nodePath i "id") (String.Format("{0} is out of range: ids must be 0..{1}, one per node", id, (count - 1))) ], -1
        | Some id -> [], id
    let cpuErrors, cpus =
        match spec.Cpus with
        | None -> [ err (nodePath i "cpus") "required (0 for a memory-only node)" ], 0
        | Some c when c < 0 || c > maxCpus -> [ err (nodePath i "cpus") (String.Format("{0} is out of range 0..{1}", c, maxCpus)) ], 0
        | Some c -> [], c
    let memErrors, mem =
        match spec.MemoryMiB with
        | None -> [ err (nodePath i "memoryMiB") "required (0 for a CPU-only node)" ], 0L
        | Some m when m < 0L || m > maxTotalMemoryMiB ->
            [ err (nodePath i "memoryMiB") (String.Format("{0} is out of range 0..{1}", m, maxTotalMemoryMiB)) ], 0L
        | Some m -> [], m
    let emptyErrors =
        if spec.Cpus = Some 0 && spec.MemoryMiB = Some 0L then
            [ err (nodePath i "cpus") "a node needs CPUs or memory; this one has neither" ]
        else []
    let addressErrors =
        match spec.Address with
        | Some a when System.String.IsNullOrWhiteSpace a -> [ err (nodePath i "address") "must be host:port when given" ]
        | _ -> []
    match collectErrors [ idErrors; cpuErrors; memErrors; emptyErrors; addressErrors ] with
    | [] ->
        Ok { Id = NodeId id; Cpus = cpus; MemoryMiB = mem; Address = spec.Address
             Initiator = if cpus > 0 then Some(NodeId id) else spec.Initiator |> Option.map NodeId }
    | errors -> Error errors

/// Checks that need every node: ids unique, initiators valid, totals in range.
let private validateNodeSet (specs: NodeSpec list) (nodes: Node list) =
    let duplicateIds =
        nodes
        |> List.mapi (fun i n -> i, n.Id)
        |> List.groupBy snd
        |> List.filter (fun (_, uses) -> List.length uses > 1)
        |> List.map (fun (id, uses) ->
            let positions = uses |> List.map fst
            err (nodePath (List.last positions) "id") (String.Format("duplicate id {0} (also used by nodes[{1}])", id.Value, (List.head positions))))
    let byId = nodes |> List.map (fun n -> n.Id, n) |> Map.ofList
    let initiatorErrors =
        List.zip specs nodes
        |> List.mapi (fun i (spec, node) ->
            match spec.Initiator with
            | None -> []
            | Some k when node.Cpus > 0 && NodeId k <> node.Id ->
                [ err (nodePath i "initiator") (String.Format("a node with CPUs is its own initiator; expected {0} or no field, found {1}", node.Id.Value, k)) ]
            | Some k ->
                match Map.tryFind (NodeId k) byId with
                | Some target when target.Cpus > 0 -> []
                | Some _ -> [ err (nodePath i "initiator") (String.Format("node {0} has no CPUs, so it cannot be an initiator", k)) ]
                | None -> [ err (nodePath i "initiator") (String.Format("no node has id {0}", k)) ])
        |> List.concat
    let totalCpus = nodes |> List.sumBy (fun n -> n.Cpus)
    let totalMem = nodes |> List.sumBy (fun n -> n.MemoryMiB)
    let totals =
        [ if totalCpus = 0 then err "nodes" "at least one node needs CPUs"
          if totalCpus > maxCpus then err "nodes" (String.Format("{0} CPUs in total; at most {1} are supported", totalCpus, maxCpus))
          if totalMem > maxTotalMemoryMiB then
              err "nodes" (String.Format("{0} MiB of memory in total; at most {1} MiB are supported", totalMem, maxTotalMemoryMiB))
          match nodes |> List.sortBy (fun n -> n.Id) |> List.tryFind (fun n -> n.MemoryMiB > 0L) with
          | None -> err "nodes" "at least one node needs memory"
          | Some first when first.MemoryMiB < minFirstNodeMemoryMiB ->
              let i = nodes |> List.findIndex (fun n -> n.Id = first.Id)
              err (nodePath i "memoryMiB")
                  (String.Format("the first node with memory holds the legacy first MiB, so it needs at least {0} MiB; found {1}", minFirstNodeMemoryMiB, first.MemoryMiB))
          | Some _ -> () ]
    collectErrors [ duplicateIds; initiatorErrors; totals ]

let private validateDistances (n: int) (m: int64 list list) =
    checkMatrix "distances" n (fun i j v ->
        if Distances.isValidEntry i j v then None
        elif i = j then Some (String.Format("must be {0} (a node's distance to itself), found {1}", Distances.localDistance, v))
        else
            Some(
                String.Format("must be {0}..{1}, ", Distances.minRemoteDistance, Distances.maxRemoteDistance)
                + String.Format("or {0} for unreachable; found {1}", Distances.unreachableDistance, v)
            )) m

/// How an HMAT matrix is encoded and what Linux reads of it.
type private HmatQuantity = { Unit: string; ToBaseUnits: int64 -> int64; LinuxMax: int64; LinuxReason: string }

let private latency =
    { Unit = "ns"
      ToBaseUnits = fun ns -> ns * HmatEncoding.picosecondsPerNanosecond
      LinuxMax = HmatEncoding.maxLatencyNs
      LinuxReason =
        String.Format("Linux computes the HMAT latency in picoseconds as a 32-bit value (at most {0} ps) ", HmatEncoding.linuxMaxValue)
        + "and, rounding up to ns, in 32 bits too; it ignores larger latencies" }

let private bandwidth =
    { Unit = "MB/s"
      ToBaseUnits = id
      LinuxMax = HmatEncoding.maxBandwidthMBps
      LinuxReason = "Linux computes the HMAT bandwidth as a 32-bit value and ignores larger bandwidths" }

let private validateHmatMatrix (field: string) (nodes: Node list) (quantity: HmatQuantity) (m: int64 list list) =
    let n = List.length nodes
    let isUsed i j = nodes.[i].Cpus > 0 && nodes.[j].MemoryMiB > 0L
    // Entries HMAT does not carry may still feed the distance derivation (20 × latency), so every entry is kept
    // far from overflow; only the entries HMAT carries must also be values Linux reads.
    let limit = System.Int64.MaxValue / 1000L
    match checkMatrix field n (fun i j v ->
              if v < 0L then Some (String.Format("must not be negative; found {0}", v))
              elif isUsed i j && v = 0L then Some (String.Format("must be positive: node {0} has CPUs and node {1} has memory", i, j))
              elif v > limit then Some (String.Format("{0} is too large (at most {1})", v, limit))
              elif isUsed i j && v > quantity.LinuxMax then
                  Some (String.Format("{0} {1} is above {2} {3}, the most a guest can see: {4}", v, quantity.Unit, quantity.LinuxMax, quantity.Unit, quantity.LinuxReason))
              else None) m with
    | [] ->
        match HmatEncoding.encode (HmatEncoding.usedEntries nodes m |> List.map (List.map quantity.ToBaseUnits)) with
        | Ok _ -> []
        | Error e -> [ err field e ]
    | errors -> errors

let private parseAssociativity = function
    | "none" -> Some NoneIndexed
    | "direct" -> Some DirectMapped
    | "complex" -> Some ComplexIndexed
    | _ -> None

let private parseWritePolicy = function
    | "none" -> Some NoWritePolicy
    | "write-back" -> Some WriteBack
    | "write-through" -> Some WriteThrough
    | _ -> None

let private validateCache (nodes: Node list) (i: int) (spec: CacheSpec) : Result<MemorySideCache, TopologyError list> =
    let path field = String.Format("caches[{0}].{1}", i, field)
    let node =
        match spec.Node with
        | None -> Error [ err (path "node") "required" ]
        | Some k ->
            match nodes |> List.tryFind (fun n -> n.Id = NodeId k) with
            | None -> Error [ err (path "node") (String.Format("no node has id {0}", k)) ]
            | Some n when n.MemoryMiB = 0L -> Error [ err (path "node") (String.Format("node {0} has no memory to cache", k)) ]
            | Some _ -> Ok(NodeId k)
    let size =
        match spec.SizeMiB with
        | None -> Error [ err (path "sizeMiB") "required" ]
        | Some s when s <= 0L || s > maxTotalMemoryMiB -> Error [ err (path "sizeMiB") (String.Format("must be 1..{0}, found {1}", maxTotalMemoryMiB, s)) ]
        | Some s -> Ok(uint64 s * 1024UL * 1024UL)
    let level =
        match spec.Level with
        | None -> Ok 1
        | Some l when l < 1 || l > 3 -> Error [ err (path "level") (String.Format("HMAT describes cache levels 1..3, found {0}", l)) ]
        | Some l -> Ok l
    let assoc =
        match spec.Associativity with
        | None -> Ok DirectMapped
        | Some a ->
            match parseAssociativity a with
            | Some v -> Ok v
            | None -> Error [ err (path "associativity") (String.Format("must be \"none\", \"direct\" or \"complex\", found \"{0}\"", a)) ]
    let policy =
        match spec.WritePolicy with
        | None -> Ok WriteBack
        | Some w ->
            match parseWritePolicy w with
            | Some v -> Ok v
            | None -> Error [ err (path "writePolicy") (String.Format("must be \"none\", \"write-back\" or \"write-through\", found \"{0}\"", w)) ]
    let line =
        match spec.LineBytes with
        | None -> Ok 64
        | Some b when b < 1 || b > 0xFFFF -> Error [ err (path "lineBytes") (String.Format("must be 1..65535, found {0}", b)) ]
        | Some b -> Ok b
    match node, size, level, assoc, policy, line with
    | Ok n, Ok s, Ok l, Ok a, Ok p, Ok b -> Ok { Node = n; SizeBytes = s; Level = l; Associativity = a; WritePolicy = p; LineBytes = b }
    | _ ->
        [ node |> Result.map ignore; size |> Result.map ignore; level |> Result.map ignore
          assoc |> Result.map ignore; policy |> Result.map ignore; line |> Result.map ignore ]
        |> List.collect (function Error e -> e | Ok () -> [])
        |> Error

let private validateCaches (nodes: Node list) (specs: CacheSpec list) =
    let results = specs |> List.mapi (validateCache nodes)
    let errors = results |> List.collect (function Error e -> e | Ok _ -> [])
    let caches = results |> List.choose (function Ok c -> Some c | Error _ -> None)
    let duplicates =
        caches
        |> List.mapi (fun i c -> i, (c.Node, c.Level))
        |> List.groupBy snd
        |> List.filter (fun (_, uses) -> List.length uses > 1)
        |> List.map (fun ((node, level), uses) ->
            err (String.Format("caches[{0}]", (uses |> List.last |> fst)))
                (String.Format("node {0} already has a level-{1} cache (caches[{2}])", node.Value, level, (uses |> List.head |> fst))))
    match errors @ duplicates with
    | [] -> Ok caches
    | e -> Error e

/// Memory-only nodes must name an initiator when the HMAT describes their performance (QEMU's rule too).
let private initiatorRequiredErrors (spec: TopologySpec) (nodes: Node list) =
    let hmatGiven = spec.LatencyNs.IsSome || spec.BandwidthMBps.IsSome || (spec.Caches |> Option.exists (not << List.isEmpty))
    if not hmatGiven then []
    else
        nodes
        |> List.mapi (fun i n -> i, n)
        |> List.filter (fun (_, n) -> n.Cpus = 0 && n.Initiator.IsNone)
        |> List.map (fun (i, _) ->
            err (nodePath i "initiator") "required for a memory-only node when latencyNs, bandwidthMBps or caches are given")

/// The field's spelling of each policy, in the order the error message lists them.
let placementNames =
    [ "first-touch", PagePlacement.FirstTouch; "bind", PagePlacement.Bind; "interleave", PagePlacement.Interleave ]

let private validatePlacement (value: string option) =
    match value with
    | None -> Ok PagePlacement.FirstTouch
    | Some p ->
        match placementNames |> List.tryFind (fun (name, _) -> name = p) with
        | Some (_, placement) -> Ok placement
        | None -> Error [ err "placement" (String.Format("must be \"first-touch\", \"bind\" or \"interleave\", found \"{0}\"", p)) ]

let private validateStructure (spec: TopologySpec) (placement: PagePlacement) : Result<Topology, TopologyError list> =
    match spec.Nodes with
    | None -> Error [ err "nodes" "required: a list with one entry per NUMA node" ]
    | Some [] -> Error [ err "nodes" "must list at least one node" ]
    | Some specs when List.length specs > maxNodes ->
        Error [ err "nodes" (String.Format("{0} nodes; at most {1} are supported", (List.length specs), maxNodes)) ]
    | Some specs ->
        let count = List.length specs
        let results = specs |> List.mapi (validateNode count)
        match results |> List.collect (function Error e -> e | Ok _ -> []) with
        | (_ :: _) as nodeErrors -> Error nodeErrors
        | [] ->
            let inFileOrder = results |> List.choose (function Ok n -> Some n | Error _ -> None)
            match validateNodeSet specs inFileOrder with
            | (_ :: _) as setErrors -> Error setErrors
            | [] ->
                let nodes = inFileOrder |> List.sortBy (fun n -> n.Id)
                let nameErrors =
                    match spec.Name with
                    | Some s when System.String.IsNullOrWhiteSpace s -> [ err "name" "must not be empty when given" ]
                    | _ -> []
                let distanceErrors = spec.Distances |> Option.map (validateDistances count) |> Option.defaultValue []
                let latencyErrors =
                    spec.LatencyNs |> Option.map (validateHmatMatrix "latencyNs" nodes latency) |> Option.defaultValue []
                let bandwidthErrors =
                    spec.BandwidthMBps |> Option.map (validateHmatMatrix "bandwidthMBps" nodes bandwidth) |> Option.defaultValue []
                let derivationErrors =
                    match spec.Distances, spec.LatencyNs with
                    | None, Some lat when latencyErrors.IsEmpty ->
                        nodes
                        |> List.filter (fun n -> n.Cpus > 0 && lat.[n.Id.Value].[n.Id.Value] <= 0L)
                        |> List.map (fun n ->
                            err (String.Format("latencyNs[{0}][{1}]", n.Id.Value, n.Id.Value))
                                "must be positive: distances are derived from it (or give \"distances\" explicitly)")
                    | _ -> []
                let caches = spec.Caches |> Option.defaultValue [] |> validateCaches nodes
                let cacheErrors = match caches with Error e -> e | Ok _ -> []
                match nameErrors @ distanceErrors @ latencyErrors @ derivationErrors @ bandwidthErrors @ cacheErrors @ initiatorRequiredErrors spec nodes with
                | (_ :: _) as errors -> Error errors
                | [] ->
                    let distances =
                        match spec.Distances, spec.LatencyNs with
                        | Some d, _ -> d |> List.map (List.map int)
                        | None, Some lat -> Distances.deriveFromLatency nodes lat
                        | None, None -> Distances.defaultMatrix count
                    Ok { Name = spec.Name |> Option.defaultValue "ssihv"
                         Nodes = nodes
                         Distances = distances
                         LatencyNs = spec.LatencyNs
                         BandwidthMBps = spec.BandwidthMBps
                         Caches = match caches with Ok c -> c | Error _ -> []
                         Placement = placement }

/// The placement field does not depend on the nodes, so its error is reported even when the nodes are broken.
let validate (spec: TopologySpec) : Result<Topology, TopologyError list> =
    let placement = validatePlacement spec.Placement
    match validateStructure spec (placement |> Result.defaultValue PagePlacement.FirstTouch), placement with
    | Ok topology, Ok _ -> Ok topology
    | Ok _, Error placementErrors -> Error placementErrors
    | Error errors, Ok _ -> Error errors
    | Error errors, Error placementErrors -> Error(errors @ placementErrors)
