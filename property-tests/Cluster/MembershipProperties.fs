module SsiHv.PropertyTests.Cluster.MembershipProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster
open SsiHv.Core.Cluster.Membership

let private config = { FsCheckConfig.defaultConfig with maxTest = 500; endSize = 120 }

let private boot = { Id = NodeId 0; Cpus = 2; MemoryMiB = 1024L; Address = "10.0.0.1:7100"; Initiator = None }

let private cluster =
    match create boot with
    | Ok cluster -> cluster
    | Error e -> failwith (MembershipError.text e)

let private nodeIds = Gen.choose (0, 6) |> Gen.map NodeId

/// Joins valid and not: memory nodes with cpus (only the boot node contributes CPUs today), without memory,
/// with a blank address or naming themselves as initiator are refused by NodeInfo.validate.
let private nodeInfos =
    gen {
        let! id = nodeIds
        let! cpus = Gen.frequency [ 5, Gen.constant 0; 2, Gen.choose (1, 4); 1, Gen.constant -1 ]
        let! memory = Gen.frequency [ 3, Gen.elements [ 512L; 1024L ]; 2, Gen.constant 0L ]
        let! address = Gen.frequency [ 9, Gen.constant (sprintf "10.0.0.%d:7100" (id.Value + 1)); 1, Gen.constant " " ]
        let! initiator = Gen.frequency [ 6, Gen.constant None; 3, Gen.constant (Some(NodeId 0)); 1, Gen.constant (Some id) ]
        return { Id = id; Cpus = cpus; MemoryMiB = memory; Address = address; Initiator = initiator }
    }

/// Steps a shell would usually take together come as one chunk (a join and its hello, a start and its
/// completion), so that running VMs with draining and lost nodes are common; single events still come in
/// any order, out of place included.
let private events =
    Gen.frequency
        [ 4, nodeInfos |> Gen.map (fun info -> [ Join info; Connected info.Id ])
          1, nodeInfos |> Gen.map (fun info -> [ Join info ])
          1, Gen.map (fun id -> [ Connected id ]) nodeIds
          3, Gen.map (fun id -> [ Drain id ]) nodeIds
          3, Gen.map (fun id -> [ DrainComplete id ]) nodeIds
          1, Gen.map (fun id -> [ Leave id ]) nodeIds
          1, Gen.map (fun id -> [ PeerLost id ]) nodeIds
          3, Gen.constant [ StartVm; VmStarted ]
          1, Gen.constant [ StartVm ]
          1, Gen.constant [ VmStarted ]
          1, Gen.constant [ VmStopped("the guest powered off", 0) ] ]
    |> Gen.listOf
    |> Gen.map List.concat

/// The simple model: who has joined, and which nodes home the memory of the VM while it is starting or
/// running. The memory homes may only shrink through a completed drain.
type private Model = { Joined: Set<NodeId>; Homes: Set<NodeId> option }

let private isReject actions = match actions with [ MembershipAction.Reject _ ] -> true | _ -> false

let private homesOf (vm: VmState) =
    match vm with
    | Starting t | Running t -> Some t.MemoryHomes
    | NotStarted | Stopped _ -> None

let private advance (model: Model) (before: Cluster) event (after: Cluster) actions =
    if isReject actions then model
    else
        let joined = match event with Join info -> model.Joined.Add info.Id | _ -> model.Joined
        let stopped = actions |> List.exists (function MembershipAction.StopVm _ -> true | _ -> false)
        let homes =
            match event, model.Homes with
            | _, _ when stopped -> None
            | VmStopped _, _ -> None
            | StartVm, _ ->
                before.Members |> Map.filter (fun _ m -> m.State = Active && m.Info.MemoryMiB > 0L) |> Map.keys |> Set.ofSeq |> Some
            | DrainComplete id, Some homes -> Some(homes.Remove id)
            | _, homes -> homes
        ignore after
        { Joined = joined; Homes = homes }

/// What must hold after every step; the failures name the broken rule.
let private problems (model: Model) (before: Cluster) event (after: Cluster) actions =
    let members = after.Members |> Map.keys |> Set.ofSeq
    let allStates = [ Joining; Active; Draining; Left; Lost ]
    let topologyNodes =
        match after.Vm with
        | Starting t | Running t -> t.Nodes |> List.filter (fun n -> n.Cpus > 0) |> List.map (fun n -> n.Id) |> Set.ofList |> Set.union t.MemoryHomes
        | NotStarted | Stopped _ -> Set.empty
    [ if members <> model.Joined.Add boot.Id then "members are not the nodes that joined"
      if allStates |> List.sumBy (fun s -> List.length (nodesIn s after)) <> members.Count then "a node is in more or fewer than one state"
      if stateOf boot.Id after <> Some Active then "the boot node is not Active"
      if homesOf after.Vm <> model.Homes then sprintf "the VM's memory homes %A differ from the model's %A" (homesOf after.Vm) model.Homes
      if topologyNodes |> Set.exists (fun id -> stateOf id after <> Some Active && stateOf id after <> Some Draining) then
          "a node of the starting or running VM is neither Active nor Draining"
      if not (List.isEmpty (nodesIn Draining after)) && (match after.Vm with Running _ -> false | _ -> true) then
          "a node is draining while no VM runs"
      if isReject actions && after <> before then "a rejected event changed the state"
      match event with
      | Join info ->
          // Whatever the cluster's state, a join is judged by the rules every input path shares, first.
          match NodeInfo.validate NodeKind.Memory info, actions with
          | Error errors, [ MembershipAction.Reject(InvalidNode(id, refused)) ] when id = info.Id && refused = errors -> ()
          | Error errors, _ -> sprintf "a join breaking %A was not refused with exactly those errors" errors
          | Ok _, [ MembershipAction.Reject(InvalidNode _) ] -> "a valid join was refused as an invalid node"
          | Ok _, _ -> ()
      | _ -> ()
      match event, homesOf before.Vm with
      // The boot node cannot lose itself (it is the one running this machine); that refusal is checked below.
      | PeerLost id, Some homes when homes.Contains id && id <> boot.Id ->
          let named = actions |> List.exists (function MembershipAction.StopVm reason -> reason.StartsWith(sprintf "node %d was lost" id.Value) | _ -> false)
          if not named then sprintf "losing node %d, which homes memory of the VM, did not stop the VM naming it" id.Value
          match after.Vm with
          | Stopped _ -> ()
          | _ -> "the VM is not stopped after losing a node homing its memory"
      | _ -> () ]

let private run events =
    events
    |> List.fold
        (fun (cluster, model, found) event ->
            let after, actions = step cluster event
            let model = advance model cluster event after actions
            after, model, found @ (problems model cluster event after actions |> List.map (sprintf "%A: %s" event)))
        (cluster, { Joined = Set.empty; Homes = None }, [])
    |> fun (_, _, found) -> found

let private expectReject event cluster expected =
    let after, actions = step cluster event
    Expect.equal actions [ MembershipAction.Reject expected ] (sprintf "%A is refused" event)
    Expect.equal after cluster "a refused event changes nothing"

let private apply events = events |> List.fold (fun c e -> fst (step c e)) cluster

let tests =
    testList "membership" [
        testPropertyWithConfig config "generated event sequences keep every invariant and agree with the model" <|
            Prop.forAll (Arb.fromGen events) (fun events ->
                let found = run events
                if List.isEmpty found then true else failwithf "%s" (String.concat "\n" found))

        test "generated event sequences reach running VMs, drains and losses" {
            // Guards the generator: the invariants above mean little if these situations never occur.
            let reached (c: Cluster) = (match c.Vm with Running _ -> [ "running" ] | _ -> []) @ (if List.isEmpty (nodesIn Draining c) then [] else [ "draining" ])
            let completed event actions =
                match event, actions with
                | DrainComplete _, [ MembershipAction.Disconnect _ ] -> [ "drain completed" ]
                | _ -> []
            let stopped actions = actions |> List.choose (function MembershipAction.StopVm _ -> Some "stopped by a loss" | _ -> None)
            let situations =
                Gen.sampleWithSize 60 300 events
                |> Array.toList
                |> List.collect (fun events ->
                    events
                    |> List.scan (fun (c, _, _) e -> let c, actions = step c e in c, completed e actions, stopped actions) (cluster, [], [])
                    |> List.collect (fun (c, completed, stopped) -> reached c @ completed @ stopped))
                |> set
            Expect.equal situations (set [ "running"; "draining"; "drain completed"; "stopped by a loss" ]) "every situation occurs"
        }

        test "a memory-only node drains into the boot node and leaves; the VM keeps running" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            let running = apply [ Join node1; Connected(NodeId 1); StartVm; VmStarted ]
            Expect.equal (homesOf running.Vm) (Some(set [ NodeId 0; NodeId 1 ])) "both home memory"
            let draining, actions = step running (Drain(NodeId 1))
            Expect.equal actions [ MembershipAction.MovePages(NodeId 1, NodeId 0) ] "pages move to the boot node"
            let drained, actions = step draining (DrainComplete(NodeId 1))
            Expect.equal actions [ MembershipAction.Disconnect(NodeId 1) ] "then it is let go"
            Expect.equal (stateOf(NodeId 1) drained, homesOf drained.Vm) (Some Left, Some(set [ NodeId 0 ])) "left, its memory no longer homed"
        }

        test "losing a node that homes memory stops the VM and says which node" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            let running = apply [ Join node1; Connected(NodeId 1); StartVm; VmStarted ]
            let after, actions = step running (PeerLost(NodeId 1))
            Expect.equal actions [ MembershipAction.StopVm "node 1 was lost; it homed guest memory of the VM" ] "stop naming it"
            Expect.equal after.Vm (Stopped("node 1 was lost; it homed guest memory of the VM", 1)) "stopped, as failed"
        }

        test "the same join again (its reply was lost) changes nothing and is not refused; another node under the same id is" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            for events in [ [ Join node1 ]; [ Join node1; Connected(NodeId 1) ] ] do
                let before = apply events
                Expect.equal (step before (Join node1)) (before, []) "a retried join"
                expectReject (Join { node1 with Address = "10.0.0.9:7100" }) before (AlreadyMember(NodeId 1, (if events.Length = 1 then Joining else Active)))
        }

        test "a node the VM does not use leaves at once; a home of the running VM's memory and the boot node are refused" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            for joined in [ apply [ Join node1 ]; apply [ Join node1; Connected(NodeId 1) ] ] do
                let left, actions = step joined (Leave(NodeId 1))
                Expect.equal (stateOf(NodeId 1) left, actions) (Some Left, [ MembershipAction.Disconnect(NodeId 1) ]) "let go at once"
                expectReject (Leave(NodeId 1)) left (WrongState(NodeId 1, Left, "only a Joining or Active node can leave (a draining one leaves when its drain completes)"))
            let running = apply [ Join node1; Connected(NodeId 1); StartVm; VmStarted ]
            expectReject (Leave(NodeId 1)) running (InUseByVm(NodeId 1))
            expectReject (Leave(NodeId 0)) running (IsBootNode(NodeId 0, "leave"))
            Expect.equal (MembershipError.text (InUseByVm(NodeId 1)))
                "node 1 runs vCPUs or homes memory of the VM; drain it (memory-only nodes) or stop the VM first" "says to drain it"
        }

        test "refusals are values with a message a person can act on" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            let joined = apply [ Join node1 ]
            expectReject (Join { node1 with MemoryMiB = 1024L }) joined (AlreadyMember(NodeId 1, Joining))
            expectReject (Drain(NodeId 5)) joined (UnknownNode(NodeId 5))
            expectReject (Drain(NodeId 0)) joined (IsBootNode(NodeId 0, "be drained"))
            expectReject StartVm joined (StillJoining [ NodeId 1 ])
            let memoryOnlyBoot =
                match create { boot with Cpus = 0 } with
                | Ok c -> c
                | Error e -> failwith (MembershipError.text e)
            expectReject StartVm memoryOnlyBoot NoCpus
            Expect.equal (MembershipError.text NoCpus) "no active node contributes CPUs: join a node with cpus > 0" "no CPUs"
            Expect.equal (MembershipError.text (IsBootNode(NodeId 0, "be drained")))
                "node 0 is the boot node: it runs the membership and cannot be drained; stop the VM and the cluster instead" "boot node"
            Expect.equal (MembershipError.text (AlreadyMember(NodeId 1, Joining)))
                "node 1 has already joined (it is Joining); it must leave or be drained before it joins again" "twice"
            let running = apply [ Join node1; Connected(NodeId 1); StartVm; VmStarted ]
            expectReject (Drain(NodeId 1)) (fst (step running (Drain(NodeId 1)))) (WrongState(NodeId 1, Draining, "only an Active node can be drained"))
        }
    ]
