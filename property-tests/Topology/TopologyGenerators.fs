/// FsCheck generators for topology files: valid ones covering the shapes that matter (memory-only and
/// CPU-only nodes, x2APIC-sized CPU counts, memory crossing the 3 GiB hole, optional SLIT/HMAT/caches, every
/// placement policy and none), and
/// invalid ones made by breaking exactly one rule of a valid file, paired with the field path that must be named.
module SsiHv.PropertyTests.Topology.TopologyGenerators

open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology

let private nodeShape =
    Gen.frequency
        [ 6, Gen.map2 (fun c m -> c, m) (Gen.choose (1, 4)) (Gen.choose (2, 512))
          2, Gen.map (fun m -> 0, m) (Gen.choose (1, 512))
          1, Gen.map (fun c -> c, 0) (Gen.choose (1, 4))
          1, Gen.map2 (fun c m -> c, m) (Gen.choose (1, 300)) (Gen.choose (1024, 4096)) ]

let private matrix (n: int) (entry: int -> int -> Gen<int64>) =
    [ for i in 0 .. n - 1 -> [ for j in 0 .. n - 1 -> entry i j ] |> Gen.sequenceToList ] |> Gen.sequenceToList

let private distanceEntry i j =
    if i = j then Gen.constant 10L
    else Gen.frequency [ 9, Gen.choose (11, 254) |> Gen.map int64; 1, Gen.constant 255L ]

/// Latencies in ns that share a factor of 10 so that HMAT's 16-bit entries hold them exactly.
let private latencyEntry i j = Gen.choose (1, 3000) |> Gen.map (fun k -> int64 k * 10L)
let private bandwidthEntry i j = Gen.choose (1, 600) |> Gen.map (fun k -> int64 k * 100L)

let validSpec: Gen<TopologySpec> =
    gen {
        let! count = Gen.choose (1, 5)
        let! shapes = Gen.listOfLength count nodeShape
        // Rule fix-ups that keep the generator total: at most Validation.maxCpus CPUs in all (several
        // x2APIC-sized nodes would exceed it), some node has CPUs, the first memory node has ≥ 2 MiB.
        let shapes =
            if shapes |> List.sumBy fst <= Validation.maxCpus then shapes
            else shapes |> List.map (fun (c, m) -> min c (Validation.maxCpus / count), m)
        let shapes =
            if shapes |> List.exists (fun (c, _) -> c > 0) then shapes else (1, snd shapes.Head) :: shapes.Tail
        let shapes =
            match shapes |> List.tryFindIndex (fun (_, m) -> m > 0) with
            | Some k -> shapes |> List.mapi (fun i (c, m) -> if i = k then c, max m 2 else c, m)
            | None -> (fst shapes.Head, 2) :: shapes.Tail
        let cpuNodes = shapes |> List.indexed |> List.filter (fun (_, (c, _)) -> c > 0) |> List.map fst
        let! initiators = Gen.listOfLength count (Gen.elements cpuNodes)
        let! order = Gen.shuffle [ 0 .. count - 1 ] |> Gen.map List.ofArray
        let! distances = Gen.optionOf (matrix count distanceEntry)
        let! latency = Gen.optionOf (matrix count latencyEntry)
        let! bandwidth = Gen.optionOf (matrix count bandwidthEntry)
        let memoryNodes = shapes |> List.indexed |> List.filter (fun (_, (_, m)) -> m > 0) |> List.map fst
        let! cachedNodes = Gen.subListOf memoryNodes
        let! caches =
            cachedNodes
            |> List.map (fun node ->
                gen {
                    let! size = Gen.choose (1, 64)
                    let! assoc = Gen.elements [ "none"; "direct"; "complex" ]
                    let! policy = Gen.elements [ "none"; "write-back"; "write-through" ]
                    let! line = Gen.elements [ 64; 128; 256 ]
                    return { CacheSpec.Node = Some node; SizeMiB = Some(int64 size); Level = Some 1; Associativity = Some assoc
                             WritePolicy = Some policy; LineBytes = Some line }
                })
            |> Gen.sequenceToList
        let nodes =
            order
            |> List.map (fun id ->
                let cpus, mem = shapes.[id]
                { NodeSpec.Id = Some id; Cpus = Some cpus; MemoryMiB = Some(int64 mem)
                  Address = Some(sprintf "127.0.0.1:%d" (7100 + id))
                  Initiator = if cpus = 0 then Some initiators.[id] else None })
        let! placement = Gen.elements [ None; Some "first-touch"; Some "bind"; Some "interleave" ]
        return { TopologySpec.Name = Some "generated"; Nodes = Some nodes; Distances = distances; LatencyNs = latency
                 BandwidthMBps = bandwidth; Caches = (if caches.IsEmpty then None else Some caches); Placement = placement }
    }

let private replaceAt (i: int) (value: 'a) (items: 'a list) = items |> List.mapi (fun k x -> if k = i then value else x)

/// A valid spec with exactly one rule broken, and the path the error must name.
let invalidSpec: Gen<TopologySpec * string> =
    gen {
        let! spec = validSpec
        let nodes = spec.Nodes.Value
        let count = nodes.Length
        let! i = Gen.choose (0, count - 1)
        let nodeAt k = nodes.[k]
        let withNode k n = { spec with Nodes = Some(replaceAt k n nodes) }
        let path field = sprintf "nodes[%d].%s" i field
        let mutations =
            [ Gen.constant ({ spec with Nodes = None }, "nodes")
              Gen.constant ({ spec with Nodes = Some [] }, "nodes")
              Gen.constant (withNode i { nodeAt i with Id = None }, path "id")
              Gen.choose (count, 1000) |> Gen.map (fun bad -> withNode i { nodeAt i with Id = Some bad }, path "id")
              Gen.constant (withNode i { nodeAt i with Cpus = None }, path "cpus")
              Gen.choose (-100, -1) |> Gen.map (fun bad -> withNode i { nodeAt i with Cpus = Some bad }, path "cpus")
              Gen.constant (withNode i { nodeAt i with MemoryMiB = None }, path "memoryMiB")
              Gen.choose (-100, -1) |> Gen.map (fun bad -> withNode i { nodeAt i with MemoryMiB = Some(int64 bad) }, path "memoryMiB")
              Gen.constant (withNode i { nodeAt i with Cpus = Some 0; MemoryMiB = Some 0L }, path "cpus")
              Gen.constant (withNode i { nodeAt i with Address = Some "  " }, path "address")
              Gen.constant ({ spec with Distances = Some(List.replicate (count + 1) (List.replicate count 10L)) }, "distances")
              Gen.constant ({ spec with LatencyNs = Some(List.replicate count (List.replicate count -5L)) }, "latencyNs[0][0]")
              Gen.constant ({ spec with Name = Some "" }, "name")
              Gen.elements [ "x"; ""; "First-Touch"; "firsttouch"; "first_touch"; " bind"; "interleaved"; "none" ]
              |> Gen.map (fun bad -> { spec with Placement = Some bad }, "placement") ]
        let distanceMutations =
            [ Gen.map2 (fun a b -> a, b) (Gen.choose (0, count - 1)) (Gen.choose (0, count - 1))
              |> Gen.map (fun (a, b) ->
                  let bad = if a = b then 20L else 5L
                  let d = spec.Distances |> Option.defaultValue (SsiHv.Core.Numa.Distances.defaultMatrix count |> List.map (List.map int64)) |> List.mapi (fun r row -> if r = a then replaceAt b bad row else row)
                  { spec with Distances = Some d }, sprintf "distances[%d][%d]" a b) ]
        let initiatorMutations =
            if (nodeAt i).Cpus = Some 0 then
                [ Gen.constant (withNode i { nodeAt i with Initiator = Some(count + 3) }, path "initiator") ]
            else [ Gen.constant (withNode i { nodeAt i with Initiator = Some((nodeAt i).Id.Value + 1) }, path "initiator") ]
        let cacheMutations =
            match spec.Caches with
            | Some (c :: rest) ->
                [ Gen.choose (4, 9) |> Gen.map (fun bad -> { spec with Caches = Some({ c with Level = Some bad } :: rest) }, "caches[0].level")
                  Gen.constant ({ spec with Caches = Some({ c with Associativity = Some "sideways" } :: rest) }, "caches[0].associativity")
                  Gen.constant ({ spec with Caches = Some({ c with Node = Some 99 } :: rest) }, "caches[0].node") ]
            | _ -> []
        return! Gen.oneof (mutations @ distanceMutations @ initiatorMutations @ cacheMutations)
    }
