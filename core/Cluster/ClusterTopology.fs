/// The VM topology of a cluster (docs/node-host.md): one NUMA node per Active member, in id order, CPUs on
/// the nodes that contribute them, each node's memory homed on that node (placement Bind: that is the point of
/// a cluster). The boot node's optional topology file adds what only a person can know: the distances, the
/// HMAT latencies and bandwidths, memory-side caches and the name. The result passes Validation.validate like
/// any topology file, so the ACPI tables and the memory layout treat it no differently.
module SsiHv.Core.Cluster.ClusterTopology

open SsiHv.Core.Topology

let private associativityName = function
    | NoneIndexed -> "none"
    | DirectMapped -> "direct"
    | ComplexIndexed -> "complex"

let private writePolicyName = function
    | NoWritePolicy -> "none"
    | WriteBack -> "write-back"
    | WriteThrough -> "write-through"

let private placementName (placement: PagePlacement) =
    Validation.placementNames |> List.find (fun (_, p) -> p = placement) |> fst

let private mib = 1024UL * 1024UL

/// A validated topology written back as a topology file would say it (the reply of GET /v1/topology, and the
/// input of validation for an assembled one). Only memory-only nodes carry `initiator`, as in a file.
let specOf (t: Topology) : TopologySpec =
    { Name = Some t.Name
      Nodes =
        t.Nodes
        |> List.map (fun n ->
            { NodeSpec.Id = Some n.Id.Value; Cpus = Some n.Cpus; MemoryMiB = Some n.MemoryMiB; Address = n.Address
              Initiator = if n.Cpus = 0 then n.Initiator |> Option.map (fun initiator -> initiator.Value) else None })
        |> Some
      Distances = Some(t.Distances |> List.map (List.map int64))
      LatencyNs = t.LatencyNs
      BandwidthMBps = t.BandwidthMBps
      Caches =
        match t.Caches with
        | [] -> None
        | caches ->
            caches
            |> List.map (fun c ->
                { CacheSpec.Node = Some c.Node.Value; SizeMiB = Some(int64 (c.SizeBytes / mib)); Level = Some c.Level
                  Associativity = Some(associativityName c.Associativity); WritePolicy = Some(writePolicyName c.WritePolicy)
                  LineBytes = Some c.LineBytes })
            |> Some
      Placement = Some(placementName t.Placement) }

let private describe (cpus: int) (memory: int64) = "cpus " + string cpus + " and memoryMiB " + string memory

/// Why the template's nodes are not the joined ones, if they are not: the first difference by id.
let private templateMismatch (nodes: NodeInfo list) (template: Topology) =
    let joined = nodes |> List.map (fun n -> n.Id, n) |> Map.ofList
    let inFile = template.Nodes |> List.map (fun n -> n.Id, n) |> Map.ofList
    let ids = Set.union (Map.keys joined |> Set.ofSeq) (Map.keys inFile |> Set.ofSeq) |> Set.toList
    ids
    |> List.tryPick (fun id ->
        match Map.tryFind id joined, Map.tryFind id inFile with
        | Some j, Some f when j.Cpus <> f.Cpus || j.MemoryMiB <> f.MemoryMiB ->
            Some("node " + string id.Value + " joined with " + describe j.Cpus j.MemoryMiB + " but the topology file gives it " + describe f.Cpus f.MemoryMiB)
        | Some j, None ->
            Some("node " + string id.Value + " joined (" + describe j.Cpus j.MemoryMiB + ") but the topology file has no node " + string id.Value)
        | None, Some _ -> Some("the topology file has node " + string id.Value + " but no node " + string id.Value + " is active in the cluster")
        | _ -> None)

/// The topology of a VM on these nodes (Membership's AssembleTopology action), or why there cannot be one.
let assemble (nodes: NodeInfo list) (template: Topology option) : Result<Topology, string> =
    let nodes = nodes |> List.sortBy (fun n -> n.Id)
    let ids = nodes |> List.map (fun n -> n.Id)
    let expected = [ 0 .. List.length nodes - 1 ] |> List.map NodeId
    match template |> Option.bind (templateMismatch nodes) with
    | Some mismatch -> Error("the boot node's topology file does not describe the joined nodes: " + mismatch)
    | None when ids <> expected ->
        let missing = expected |> List.filter (fun id -> not (List.contains id ids))
        let listed (ids: NodeId list) = ids |> List.map (fun id -> string id.Value) |> String.concat ", "
        let advice =
            match missing with
            | [] -> ""
            | m -> "; join node(s) " + listed m + " or renumber the nodes"
        Error("the active nodes have ids " + listed ids + ", but NUMA node ids must be 0.." + string (List.length nodes - 1) + " with none missing" + advice)
    | None ->
        let templateInitiator id =
            template |> Option.bind (fun t -> t.Nodes |> List.tryFind (fun n -> n.Id = id)) |> Option.bind (fun n -> n.Initiator)
        let nodeSpecs =
            nodes
            |> List.map (fun n ->
                { NodeSpec.Id = Some n.Id.Value; Cpus = Some n.Cpus; MemoryMiB = Some n.MemoryMiB; Address = Some n.Address
                  Initiator =
                    if n.Cpus > 0 then None
                    else n.Initiator |> Option.orElse (templateInitiator n.Id) |> Option.map (fun initiator -> initiator.Value) })
        let spec =
            match template with
            | Some t -> { specOf t with Nodes = Some nodeSpecs; Placement = Some(placementName PagePlacement.Bind) }
            | None ->
                { Name = Some "ssihv-cluster"; Nodes = Some nodeSpecs; Distances = None; LatencyNs = None; BandwidthMBps = None
                  Caches = None; Placement = Some(placementName PagePlacement.Bind) }
        Validation.validate spec
        |> Result.mapError (fun errors ->
            let problems = errors |> List.map Topology.errorText |> String.concat "; "
            "the joined nodes do not form a valid topology: " + problems)
