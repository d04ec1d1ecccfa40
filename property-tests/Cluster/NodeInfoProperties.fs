module SsiHv.PropertyTests.Cluster.NodeInfoProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster
open SsiHv.Core.Cluster.Membership
open SsiHv.Core.Cluster.NodeConfig

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private addresses =
    Gen.frequency
        [ 8, Gen.choose (1, 254) |> Gen.map (sprintf "10.0.0.%d:7100")
          // Valid, but not written the canonical way.
          1, Gen.constant "010.000.0.1:07100"
          1, Gen.elements [ ""; " "; "node1:7100"; "10.0.0.1"; "10.0.0.256:7100"; "10.0.0.1:65536" ] ]

/// Contributions on both sides of every rule, often breaking several at once.
let private nodeInfos =
    gen {
        let! id = Gen.frequency [ 9, Gen.choose (0, 6); 1, Gen.constant -1 ] |> Gen.map NodeId
        let! cpus = Gen.frequency [ 4, Gen.constant 0; 3, Gen.choose (1, 4); 1, Gen.constant -1; 1, Gen.elements [ 1024; 1025 ] ]
        // Up to the most a VM has, and past it as far as an int64 goes.
        let! memory =
            Gen.frequency
                [ 4, Gen.elements [ 512L; 1024L ]; 2, Gen.constant 0L; 1, Gen.constant -1L
                  1, Gen.elements [ 16L <<< 20; (16L <<< 20) + 1L; 9_000_000_000_000L; System.Int64.MaxValue ] ]
        let! address = addresses
        let! initiator = Gen.frequency [ 4, Gen.constant None; 3, Gen.constant (Some(NodeId 0)); 1, Gen.constant (Some id); 1, Gen.constant (Some(NodeId -1)) ]
        return ({ Id = id; Cpus = cpus; MemoryMiB = memory; Address = address; Initiator = initiator }: NodeInfo)
    }

let private kinds = Gen.elements [ NodeKind.Boot; NodeKind.Memory ]

/// A node config file with this contribution and every other field valid for its kind.
let private fileOf kind (info: NodeInfo) : RawNodeConfig =
    { Id = Some info.Id.Value; Transport = Some info.Address; Http = Some "127.0.0.1:8100"
      Secret = Some "00112233445566778899aabbccddeeff"; ApiToken = Some "a-long-random-token"; Cpus = Some info.Cpus
      MemoryMiB = Some info.MemoryMiB; Initiator = info.Initiator |> Option.map (fun initiator -> initiator.Value)
      Boot = (if kind = NodeKind.Boot then Some true else None)
      Join = (if kind = NodeKind.Memory then Some "http://10.0.0.1:8100" else None)
      Topology = None; MemoryBudgetMiB = None; ReadAheadPages = None; StoreMiB = None; TimeoutScale = None
      ImageDirectory = None; MemberRetentionSeconds = None }

/// A broken rule as a node config file reports it: the file calls the node's address `transport`.
let private asInFile (e: NodeInfoError) =
    (match e with InvalidAddress _ -> "transport" | _ -> NodeInfoError.field e), NodeInfoError.rule e

let private boot: NodeInfo = { Id = NodeId 0; Cpus = 2; MemoryMiB = 1024L; Address = "10.0.0.1:7100"; Initiator = None }

let private bootCluster =
    match create boot defaultRetention with
    | Ok cluster -> cluster
    | Error e -> failwith (MembershipError.text e)

let private cpusOnMemoryNode cpus =
    sprintf "cpus: only the boot node may contribute CPUs today; expected 0 on a memory node, found %d" cpus

let tests =
    testList "node info" [
        testPropertyWithConfig config "a node config file and a join accept the same contributions and refuse the rest with the same rules" <|
            Prop.forAll (Arb.fromGen (Gen.zip kinds nodeInfos)) (fun (kind, info) ->
                match NodeConfig.validate (fileOf kind info), NodeInfo.validate kind info with
                | Ok file, Ok valid ->
                    if nodeInfo file = valid then true else failwithf "the file gives %A, the join %A" (nodeInfo file) valid
                | Error fileErrors, Error errors ->
                    let fromFile = fileErrors |> List.map (fun e -> e.Field, e.Rule) |> List.sort
                    let fromJoin = errors |> List.map asInFile |> List.sort
                    if fromFile = fromJoin then true else failwithf "the file reports %A, the join %A" fromFile fromJoin
                | file, join -> failwithf "%A %A: the file gives %A, the join %A" kind info file join)

        testPropertyWithConfig config "a memory node with cpus is refused naming cpus with one message on every path, and is no member" <|
            Prop.forAll (Arb.fromGen (Gen.zip nodeInfos (Gen.choose (1, 256)))) (fun (info, cpus) ->
                let info = { info with Cpus = cpus }
                let expected = cpusOnMemoryNode cpus
                let joinTexts =
                    match NodeInfo.validate NodeKind.Memory info with
                    | Error errors -> errors |> List.map NodeInfoError.text
                    | Ok _ -> []
                let fileTexts =
                    match NodeConfig.validate (fileOf NodeKind.Memory info) with
                    | Error errors -> errors |> List.map errorText
                    | Ok _ -> []
                let after, actions = step bootCluster (Join info)
                let refusal =
                    match actions with
                    | [ MembershipAction.Reject(InvalidNode _ as refused) ] -> MembershipError.text refused
                    | _ -> ""
                List.contains expected joinTexts && List.contains expected fileTexts && refusal.Contains expected
                && after = bootCluster)

        testPropertyWithConfig config "the boot node's rules are a memory node's without the one on cpus" <|
            Prop.forAll (Arb.fromGen nodeInfos) (fun info ->
                let errorsOf kind = match NodeInfo.validate kind info with Error errors -> errors | Ok _ -> []
                let memory = errorsOf NodeKind.Memory
                // A memory node with more CPUs than a VM has is refused for having CPUs at all.
                let withoutCpuLimits = List.filter (function CpusOnMemoryNode _ | TooManyCpus _ -> false | _ -> true)
                withoutCpuLimits memory = withoutCpuLimits (errorsOf NodeKind.Boot)
                && List.contains (CpusOnMemoryNode info.Cpus) memory = (info.Cpus > 0))

        testPropertyWithConfig config "a valid contribution comes back with its address canonical, and is valid again unchanged" <|
            Prop.forAll (Arb.fromGen (Gen.zip kinds nodeInfos)) (fun (kind, info) ->
                match NodeInfo.validate kind info with
                | Error _ -> true
                | Ok valid ->
                    valid = { info with Address = valid.Address }
                    && Endpoint.parse info.Address = Endpoint.parse valid.Address
                    && NodeInfo.validate kind valid = Ok valid)

        test "every broken rule is reported at once, naming its field, what was expected and what was found" {
            let refused kind info =
                match NodeInfo.validate kind info with
                | Error errors -> errors |> List.map NodeInfoError.text
                | Ok _ -> failtestf "%A accepted" info
            Expect.equal
                (refused NodeKind.Memory { Id = NodeId 1; Cpus = 2; MemoryMiB = -5L; Address = "node1"; Initiator = Some(NodeId 0) })
                [ cpusOnMemoryNode 2
                  "memoryMiB: expected 0 or more, found -5"
                  "address: expected IPv4:port such as 127.0.0.1:7101, found \"node1\""
                  "initiator: only a memory-only node (cpus 0) names an initiator; expected none on this one with 2 cpus, found 0" ]
                "a memory node with cpus, negative memory, a host name and an initiator"
            Expect.equal
                (refused NodeKind.Boot { Id = NodeId(-1); Cpus = -1; MemoryMiB = 0L; Address = "10.0.0.1:7100"; Initiator = Some(NodeId(-2)) })
                [ "id: expected 0 or more, found -1"
                  "cpus: expected 0 or more, found -1"
                  "initiator: expected a node id (0 or more), found -2" ]
                "negative numbers"
            Expect.equal
                (refused NodeKind.Memory { Id = NodeId 3; Cpus = 0; MemoryMiB = 0L; Address = "10.0.0.4:7100"; Initiator = Some(NodeId 3) })
                [ "memoryMiB: expected more than 0: a node without cpus contributes memory, found 0"
                  "initiator: expected the id of a node with CPUs, found this node's own id 3" ]
                "a node contributing nothing, naming itself"
            Expect.equal
                (refused NodeKind.Boot { Id = NodeId 0; Cpus = 5000; MemoryMiB = 9_000_000_000_000L; Address = "10.0.0.1:7100"; Initiator = None })
                [ "cpus: expected at most 1024, the most a VM has, found 5000"
                  "memoryMiB: expected at most 16777216, the most a VM has, found 9000000000000" ]
                "more than any VM has, so no size computed from them overflows"
        }
    ]
