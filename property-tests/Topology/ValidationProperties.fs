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

/// A valid spec whose latency (or bandwidth) matrix gets one entry HMAT carries (initiator row, memory column) set
/// above what Linux reads; with the field, the path that must be named and the value.
let private specWithUnreadableHmatEntry =
    gen {
        let! spec = validSpec
        let nodes = spec.Nodes.Value
        let count = nodes.Length
        let ids field = nodes |> List.filter field |> List.map (fun n -> n.Id.Value)
        let! i = Gen.elements (ids (fun n -> n.Cpus.Value > 0))
        let! j = Gen.elements (ids (fun n -> n.MemoryMiB.Value > 0L))
        let! isLatency = Gen.elements [ true; false ]
        let limit = if isLatency then HmatEncoding.maxLatencyNs else HmatEncoding.maxBandwidthMBps
        let! excess = Gen.frequency [ 1, Gen.constant 1L; 3, Gen.choose (1, 1_000_000) |> Gen.map int64 ]
        let value = limit + excess
        let ones = List.replicate count (List.replicate count 1L)
        let matrix = ones |> List.mapi (fun r row -> if r = i then row |> List.mapi (fun c v -> if c = j then value else v) else row)
        let field = if isLatency then "latencyNs" else "bandwidthMBps"
        let spec = if isLatency then { spec with LatencyNs = Some matrix } else { spec with BandwidthMBps = Some matrix }
        return spec, sprintf "%s[%d][%d]" field i j, value
    }

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
                        let i = n.Id.Value
                        let remote = [ 0 .. Topology.nodeCount t - 1 ] |> List.filter ((<>) i)
                        List.allPairs remote remote |> List.forall (fun (a, b) ->
                            lat.[i].[a] > lat.[i].[b] |> not || t.Distances.[i].[a] >= t.Distances.[i].[b])))

        testPropertyWithConfig config "the placement field selects the policy; absent means first-touch" <|
            Prop.forAll (Arb.fromGen validSpec) (fun spec ->
                let expected =
                    match spec.Placement with
                    | None | Some "first-touch" -> PagePlacement.FirstTouch
                    | Some "bind" -> PagePlacement.Bind
                    | Some "interleave" -> PagePlacement.Interleave
                    | Some other -> failwithf "the generator made %s" other
                (validated spec).Placement = expected)

        testPropertyWithConfig config "a bad placement names the field, the allowed values and the value found, alongside other errors" <|
            Prop.forAll (Arb.fromGen invalidSpec) (fun (spec, path) ->
                let bad = { spec with Placement = Some "sideways" }
                match Validation.validate bad with
                | Ok _ -> false |> Prop.label "accepted"
                | Error errors ->
                    let placement = errors |> List.filter (fun e -> e.Path = "placement")
                    (placement = [ { Path = "placement"; Message = "must be \"first-touch\", \"bind\" or \"interleave\", found \"sideways\"" } ]
                     && (path = "placement" || errors |> List.exists (fun e -> e.Path = path)))
                    |> Prop.label (sprintf "expected errors at placement and %s, got %A" path errors))

        testCase "a placement error reads as the user sees it" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None } ]
                  Distances = None; LatencyNs = None; BandwidthMBps = None; Caches = None; Placement = Some "x" }
            match Validation.validate spec with
            | Error [ e ] ->
                Expect.equal (Topology.errorText e) "placement: must be \"first-touch\", \"bind\" or \"interleave\", found \"x\"" "message"
            | other -> failtestf "expected one error, got %A" other

        testCase "a memory-only node without an initiator is rejected when HMAT data is given" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = None } ]
                  Distances = None; LatencyNs = Some [ [ 10L; 20L ]; [ 20L; 10L ] ]; BandwidthMBps = None; Caches = None; Placement = None }
            match Validation.validate spec with
            | Error [ e ] -> Expect.equal e.Path "nodes[1].initiator" "the memory-only node is named"
            | other -> failtestf "expected one error, got %A" other

        testPropertyWithConfig config "an HMAT latency or bandwidth Linux would drop is rejected, naming the entry and the limit" <|
            Prop.forAll (Arb.fromGen specWithUnreadableHmatEntry) (fun (spec, path, value) ->
                match Validation.validate spec with
                | Error [ e ] ->
                    (e.Path = path && e.Message.Contains(string value) && e.Message.Contains "32-bit")
                    |> Prop.label (sprintf "%s: %s" e.Path e.Message)
                | other -> false |> Prop.label (sprintf "expected one error at %s, got %A" path other))

        testCase "a 5 ms latency, which encodes but Linux ignores, is rejected at its entry" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = Some 0 } ]
                  Distances = None; LatencyNs = Some [ [ 100000L; 5000000L ]; [ 5000000L; 100000L ] ]
                  BandwidthMBps = Some [ [ 5_000_000_000L; 1000L ]; [ 1000L; 1000L ] ]; Caches = None; Placement = None }
            match Validation.validate spec with
            | Error [ latency; bandwidth ] ->
                Expect.equal latency.Path "latencyNs[0][1]" "the latency entry is named"
                Expect.stringContains latency.Message "4294966 ns" "the latency limit is given"
                Expect.equal bandwidth.Path "bandwidthMBps[0][0]" "the bandwidth entry is named"
                Expect.stringContains bandwidth.Message "4294967295 MB/s" "the bandwidth limit is given"
            | other -> failtestf "expected two errors, got %A" other

        testCase "latencies that cannot share a 16-bit HMAT base unit are rejected with the range" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = Some 0 } ]
                  Distances = None; LatencyNs = Some [ [ 1L; 70000L ]; [ 1L; 1L ] ]; BandwidthMBps = None; Caches = None; Placement = None }
            match Validation.validate spec with
            | Error [ e ] ->
                Expect.equal e.Path "latencyNs" "the matrix is named"
                Expect.stringContains e.Message "16-bit" "the reason is given"
            | other -> failtestf "expected one error, got %A" other
    ]
