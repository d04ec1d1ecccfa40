module SsiHv.PropertyTests.Topology.ValidationProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Numa
open SsiHv.PropertyTests.Topology.TopologyGenerators

let config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private validated spec =
    match Validation.validate spec with
    | Ok t -> t
    | Error e -> failwithf "a generated valid topology was rejected: %A" e

let tests =
    testList "topology validation" [
        testPropertyWithConfig config "every generated valid topology is accepted" <|
            Prop.forAll (Arb.fromGen validSpec) (fun spec -> Result.isOk (Validation.validate spec))

        testPropertyWithConfig config "breaking one rule gives an error naming that field" <|
            Prop.forAll (Arb.fromGen invalidSpec) (fun (spec, path) ->
                match Validation.validate spec with
                | Ok _ -> false |> Prop.label (sprintf "accepted, but %s was broken" path)
                | Error errors ->
                    (errors |> List.exists (fun e -> e.Path = path))
                    |> Prop.label (sprintf "expected an error at %s, got %A" path errors))

        testPropertyWithConfig config "arbitrary specs are rejected or accepted, never an exception" <|
            fun (spec: TopologySpec) -> Validation.validate spec |> ignore; true

        testPropertyWithConfig config "the resolved SLIT obeys Linux's rules" <|
            Prop.forAll (Arb.fromGen validSpec) (fun spec ->
                let t = validated spec
                let n = Topology.nodeCount t
                List.length t.Distances = n
                && t.Distances |> List.forall (fun row -> List.length row = n)
                && t.Distances |> List.indexed |> List.forall (fun (i, row) ->
                    row |> List.indexed |> List.forall (fun (j, d) -> Distances.isValidEntry i j (int64 d))))

        testPropertyWithConfig config "explicit distances are kept exactly" <|
            Prop.forAll (Arb.fromGen validSpec) (fun spec ->
                let t = validated spec
                match spec.Distances with
                | Some d -> t.Distances = (d |> List.map (List.map int))
                | None -> true)

        testPropertyWithConfig config "derived distances grow with latency along an initiator's row" <|
            Prop.forAll (Arb.fromGen validSpec) (fun spec ->
                let t = validated { spec with Distances = None }
                match spec.LatencyNs with
                | None -> t.Distances = Distances.defaultMatrix (Topology.nodeCount t)
                | Some lat ->
                    Topology.initiatorNodes t |> List.forall (fun n ->
                        let i = n.Id
                        let remote = [ 0 .. Topology.nodeCount t - 1 ] |> List.filter ((<>) i)
                        List.allPairs remote remote |> List.forall (fun (a, b) ->
                            lat.[i].[a] > lat.[i].[b] |> not || t.Distances.[i].[a] >= t.Distances.[i].[b])))

        testCase "a memory-only node without an initiator is rejected when HMAT data is given" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = None } ]
                  Distances = None; LatencyNs = Some [ [ 10L; 20L ]; [ 20L; 10L ] ]; BandwidthMBps = None; Caches = None }
            match Validation.validate spec with
            | Error [ e ] -> Expect.equal e.Path "nodes[1].initiator" "the memory-only node is named"
            | other -> failtestf "expected one error, got %A" other

        testCase "latencies that cannot share a 16-bit HMAT base unit are rejected with the range" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = Some 0 } ]
                  Distances = None; LatencyNs = Some [ [ 1L; 70000L ]; [ 1L; 1L ] ]; BandwidthMBps = None; Caches = None }
            match Validation.validate spec with
            | Error [ e ] ->
                Expect.equal e.Path "latencyNs" "the matrix is named"
                Expect.stringContains e.Message "16-bit" "the reason is given"
            | other -> failtestf "expected one error, got %A" other
    ]
