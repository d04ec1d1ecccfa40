module SsiHv.PropertyTests.Cluster.ClusterTopologyProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Cluster
open SsiHv.Core.Topology
open SsiHv.PropertyTests.Topology

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// A valid topology file, and the nodes that joined as it describes them, in a random order.
let private templateAndNodes =
    gen {
        let! spec = TopologyGenerators.validSpec
        let template =
            match Validation.validate spec with
            | Ok t -> t
            | Error e -> failwithf "the generator made an invalid topology: %A" e
        let nodes =
            template.Nodes
            |> List.map (fun n ->
                { NodeInfo.Id = n.Id; Cpus = n.Cpus; MemoryMiB = n.MemoryMiB; Address = sprintf "10.0.0.%d:7100" (n.Id.Value + 1)
                  Initiator = if n.Cpus = 0 then n.Initiator else None })
        let! order = Gen.shuffle (nodes: NodeInfo list) |> Gen.map List.ofArray
        return template, order
    }

let private shape (t: Topology) = t.Nodes |> List.map (fun n -> n.Id, n.Cpus, n.MemoryMiB)
let private infoShape (nodes: NodeInfo list) = nodes |> List.sortBy (fun n -> n.Id) |> List.map (fun n -> n.Id, n.Cpus, n.MemoryMiB)

let private assembled nodes template =
    match ClusterTopology.assemble nodes template with
    | Ok t -> t
    | Error e -> failwithf "refused: %s" e

let tests =
    testList "cluster topology" [
        testPropertyWithConfig config "with a matching topology file: every node, the file's matrices, caches and name, placement bind, valid" <|
            Prop.forAll (Arb.fromGen templateAndNodes) (fun (template, nodes) ->
                let t = assembled nodes (Some template)
                Expect.equal (shape t) (infoShape nodes) "every joined node with its cpus and memory, in id order"
                Expect.equal t.Distances template.Distances "distances"
                Expect.equal t.LatencyNs template.LatencyNs "latencies"
                Expect.equal t.BandwidthMBps template.BandwidthMBps "bandwidths"
                Expect.equal t.Caches template.Caches "caches"
                Expect.equal t.Name template.Name "name"
                Expect.equal t.Placement PagePlacement.Bind "placement"
                Expect.equal (t.Nodes |> List.map (fun n -> n.Address)) (nodes |> List.sortBy (fun n -> n.Id) |> List.map (fun n -> Some n.Address)) "addresses"
                Expect.equal (Validation.validate (ClusterTopology.specOf t)) (Ok t) "it validates as a topology file")

        testPropertyWithConfig config "without a topology file: default distances, no HMAT, every node" <|
            Prop.forAll (Arb.fromGen templateAndNodes) (fun (_, nodes) ->
                let t = assembled nodes None
                Expect.equal (shape t) (infoShape nodes) "every joined node"
                Expect.equal t.Distances (SsiHv.Core.Numa.Distances.defaultMatrix nodes.Length) "default distances"
                Expect.isNone t.LatencyNs "no latencies"
                Expect.equal t.Placement PagePlacement.Bind "placement"
                Expect.equal (Validation.validate (ClusterTopology.specOf t)) (Ok t) "valid")

        testPropertyWithConfig config "a topology file that differs from the joined nodes is refused naming the node" <|
            Prop.forAll (Arb.fromGen (Gen.zip templateAndNodes (Gen.choose (0, 100)))) (fun ((template, nodes), pick) ->
                let changed = nodes.[pick % nodes.Length]
                let nodes = nodes |> List.map (fun (n: NodeInfo) -> if n.Id = changed.Id then { n with MemoryMiB = n.MemoryMiB + 1L } else n)
                match ClusterTopology.assemble nodes (Some template) with
                | Ok _ -> failwith "accepted"
                | Error e -> Expect.stringContains e (sprintf "node %d joined with" changed.Id.Value) "names the node")

        testPropertyWithConfig config "ids with a gap are refused naming the missing id" <|
            Prop.forAll (Arb.fromGen templateAndNodes) (fun (_, nodes) ->
                let nodes = nodes |> List.map (fun (n: NodeInfo) -> { n with Id = NodeId(n.Id.Value + 1); Initiator = n.Initiator |> Option.map (fun initiator -> NodeId(initiator.Value + 1)) })
                match ClusterTopology.assemble nodes None with
                | Ok _ -> failwith "accepted"
                | Error e -> Expect.stringContains e "join node(s) 0" "names node 0")
    ]
