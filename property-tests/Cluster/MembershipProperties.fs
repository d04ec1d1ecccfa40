module SsiHv.PropertyTests.Cluster.MembershipProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster
open SsiHv.Core.Cluster.Membership

let private config = { FsCheckConfig.defaultConfig with maxTest = 500; endSize = 120 }

let private boot = { Id = NodeId 0; Cpus = 2; MemoryMiB = 1024L; Address = "10.0.0.1:7100"; Initiator = None }

let private retention = TimeSpan.FromSeconds 10.0

let private cluster =
    match create boot retention with
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
          1, Gen.constant [ VmStopped("the guest powered off", 0) ]
          // How much time passes, in seconds: `run` makes it the shell's monotonic time.
          3, Gen.choose (0, 8) |> Gen.map (fun seconds -> [ Tick(TimeSpan.FromSeconds(float seconds)) ]) ]
    |> Gen.listOf
    |> Gen.map List.concat

/// The simple model: who has joined and not been pruned, which nodes home the memory of the VM while it is
/// starting or running (they may only shrink through a completed drain), and since when each member that left
/// or was lost has been seen so by a tick.
type private Model = { Joined: Set<NodeId>; Homes: Set<NodeId> option; Departed: Map<NodeId, TimeSpan> }

let private hasDeparted (cluster: Cluster) id = stateOf id cluster = Some Left || stateOf id cluster = Some Lost

let private isReject actions = match actions with [ MembershipAction.Reject _ ] -> true | _ -> false

let private homesOf (vm: VmState) =
    match vm with
    | Starting t | Running t -> Some t.MemoryHomes
    | NotStarted | Stopped _ -> None

let private advance (model: Model) (before: Cluster) event (after: Cluster) actions =
    if isReject actions then model
    else
        let joined, departed =
            match event with
            | Join info -> model.Joined.Add info.Id, model.Departed.Remove info.Id
            | Tick now ->
                let seen =
                    model.Joined
                    |> Seq.filter (hasDeparted before)
                    |> Seq.map (fun id -> id, model.Departed |> Map.tryFind id |> Option.defaultValue now)
                    |> Map.ofSeq
                let expired = seen |> Map.filter (fun _ since -> now - since >= retention) |> Map.keys |> Set.ofSeq
                model.Joined - expired, seen |> Map.filter (fun id _ -> not (expired.Contains id))
            | _ -> model.Joined, model.Departed
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
        { Joined = joined; Homes = homes; Departed = departed }

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
      if after.Departures <> model.Departed then sprintf "departures %A, the model says %A" after.Departures model.Departed
      if after.Departures |> Map.exists (fun id _ -> not (hasDeparted after id)) then "a member that is in has a departure time"
      match event with
      | Tick now ->
          if members |> Set.exists (fun id -> hasDeparted after id && not (after.Departures.ContainsKey id)) then
              "a tick left a departed member without its departure time"
          if after.Departures |> Map.exists (fun _ since -> now - since >= retention) then "a tick kept a member past its retention"
          let pruned = Set.ofSeq before.Members.Keys - members
          let disconnected = actions |> List.choose (function MembershipAction.Disconnect id -> Some id | _ -> None) |> Set.ofList
          if disconnected <> (pruned |> Set.filter (fun id -> stateOf id before = Some Lost)) then
              "a tick did not remove the transport peer of exactly the pruned lost members"
          if actions |> List.exists (function MembershipAction.Disconnect _ -> false | _ -> true) then "a tick did more than prune"
      | _ -> ()
      match event with
      | Join info when NodeInfo.validate NodeKind.Memory info |> Result.isOk ->
          // The same node again is in already; another node under a member's id is refused, naming what differs.
          match Map.tryFind info.Id before.Members, actions with
          | Some m, [] when (m.State = Joining || m.State = Active) && m.Info = info && after = before -> ()
          | Some m, _ when (m.State = Joining || m.State = Active) && m.Info = info -> "the same join again changed something"
          | Some m, [ MembershipAction.Reject(AlreadyMember(id, state, differences)) ]
              when (m.State = Joining || m.State = Active || m.State = Draining) && id = info.Id && state = m.State
                   && differences = Membership.differences m.Info info && (m.Info = info) = differences.IsEmpty -> ()
          | Some m, _ when m.State = Joining || m.State = Active || m.State = Draining ->
              sprintf "a join under member %d's id was not refused naming its state and what differs: %A" info.Id.Value actions
          | _, [ MembershipAction.Connect connected ] when connected = info && stateOf info.Id after = Some Joining -> ()
          | _ -> sprintf "a new or returning node %d did not become Joining with a Connect: %A" info.Id.Value actions
      | _ -> ()
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

/// Ticks come as the time that passed: the shell's clock is monotonic.
let private onClock events =
    events
    |> List.mapFold
        (fun (now: TimeSpan) event ->
            match event with
            | Tick passed -> Tick(now + passed), now + passed
            | other -> other, now)
        TimeSpan.Zero
    |> fst

let private run events =
    onClock events
    |> List.fold
        (fun (cluster, model, found) event ->
            let after, actions = step cluster event
            let model = advance model cluster event after actions
            after, model, found @ (problems model cluster event after actions |> List.map (sprintf "%A: %s" event)))
        (cluster, { Joined = Set.empty; Homes = None; Departed = Map.empty }, [])
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

        test "generated event sequences reach running VMs, drains, losses, returns and prunes" {
            // Guards the generator: the invariants above mean little if these situations never occur.
            let reached (c: Cluster) = (match c.Vm with Running _ -> [ "running" ] | _ -> []) @ (if List.isEmpty (nodesIn Draining c) then [] else [ "draining" ])
            let completed event actions =
                match event, actions with
                | DrainComplete _, [ MembershipAction.Disconnect _ ] -> [ "drain completed" ]
                | Tick _, [ MembershipAction.Disconnect _ ] -> [ "pruned a lost node" ]
                | Join _, [ MembershipAction.Connect _ ] -> []
                | _ -> []
            let returned (before: Cluster) event =
                match event with
                | Join info when stateOf info.Id before = Some Lost -> [ "a lost node joined again" ]
                | _ -> []
            let stopped actions = actions |> List.choose (function MembershipAction.StopVm _ -> Some "stopped by a loss" | _ -> None)
            let situations =
                Gen.sampleWithSize 60 300 events
                |> Array.toList
                |> List.collect (fun events ->
                    onClock events
                    |> List.scan (fun (c, _, _) e -> let after, actions = step c e in after, completed e actions @ returned c e, stopped actions) (cluster, [], [])
                    |> List.collect (fun (c, completed, stopped) -> reached c @ completed @ stopped))
                |> set
            Expect.equal situations
                (set [ "running"; "draining"; "drain completed"; "stopped by a loss"; "pruned a lost node"; "a lost node joined again" ])
                "every situation occurs"
        }

        test "nodes joining and leaving by the hundred leave a view bounded by those departed within the retention" {
            let node id = { Id = NodeId id; Cpus = 0; MemoryMiB = 512L; Address = sprintf "10.0.%d.%d:7100" (id / 200) (id % 200 + 2); Initiator = None }
            // Ten nodes come and go each second for a minute.
            let churn =
                [ for second in 1..60 do
                      for id in second * 10 .. second * 10 + 9 do
                          yield! [ Join(node id); Connected(NodeId id); Leave(NodeId id) ]
                      yield Tick(TimeSpan.FromSeconds(float second)) ]
            let after = apply churn
            // The first tick that sees a departure stamps it; the tick `retention` later prunes it.
            Expect.equal after.Members.Count (1 + 10 * int retention.TotalSeconds) "the boot node and the last ten seconds' departures"
            Expect.isTrue (after.Members |> Map.forall (fun id _ -> id.Value = 0 || id.Value > 500)) "only the latest remain"
        }

        test "a lost node that joins again is active again; one taken out for good is pruned" {
            let node1 = { Id = NodeId 1; Cpus = 0; MemoryMiB = 512L; Address = "10.0.0.2:7100"; Initiator = Some(NodeId 0) }
            let lost = apply [ Join node1; Connected(NodeId 1); PeerLost(NodeId 1); Tick(TimeSpan.FromSeconds 3.0) ]
            Expect.equal (stateOf (NodeId 1) lost, lost.Departures) (Some Lost, Map.ofList [ NodeId 1, TimeSpan.FromSeconds 3.0 ]) "lost since the tick"
            let joined, actions = step lost (Join node1)
            Expect.equal (actions, joined.Departures) ([ MembershipAction.Connect node1 ], Map.empty) "dialled again"
            Expect.equal (stateOf (NodeId 1) (fst (step joined (Connected(NodeId 1))))) (Some Active) "active again"
            let pruned, actions = step lost (Tick(TimeSpan.FromSeconds 13.0))
            Expect.equal (stateOf (NodeId 1) pruned, actions) (None, [ MembershipAction.Disconnect(NodeId 1) ]) "pruned, its peer removed"
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
                expectReject (Join { node1 with Address = "10.0.0.9:7100" }) before
                    (AlreadyMember(NodeId 1, (if events.Length = 1 then Joining else Active), [ "address 10.0.0.2:7100, asked 10.0.0.9:7100" ]))
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
            expectReject (Join { node1 with MemoryMiB = 1024L }) joined (AlreadyMember(NodeId 1, Joining, [ "memoryMiB 512, asked 1024" ]))
            expectReject (Drain(NodeId 5)) joined (UnknownNode(NodeId 5))
            expectReject (Drain(NodeId 0)) joined (IsBootNode(NodeId 0, "be drained"))
            expectReject StartVm joined (StillJoining [ NodeId 1 ])
            let memoryOnlyBoot =
                match create { boot with Cpus = 0 } retention with
                | Ok c -> c
                | Error e -> failwith (MembershipError.text e)
            expectReject StartVm memoryOnlyBoot NoCpus
            Expect.equal (MembershipError.text NoCpus) "no active node contributes CPUs: join a node with cpus > 0" "no CPUs"
            Expect.equal (MembershipError.text (IsBootNode(NodeId 0, "be drained")))
                "node 0 is the boot node: it runs the membership and cannot be drained; stop the VM and the cluster instead" "boot node"
            Expect.equal (MembershipError.text (AlreadyMember(NodeId 1, Joining, [])))
                "node 1 has already joined (it is Joining); it must leave or be drained before it joins again" "twice"
            Expect.equal (MembershipError.text (AlreadyMember(NodeId 1, Active, [ "memoryMiB 512, asked 1024"; "address 10.0.0.2:7100, asked 10.0.0.9:7100" ])))
                "node 1 is already a member (Active) with other values: memoryMiB 512, asked 1024; address 10.0.0.2:7100, asked 10.0.0.9:7100; one id is one node: let it leave (or drain it) before it joins with these, or give this node another id"
                "another node under a member's id"
            let running = apply [ Join node1; Connected(NodeId 1); StartVm; VmStarted ]
            expectReject (Drain(NodeId 1)) (fst (step running (Drain(NodeId 1)))) (WrongState(NodeId 1, Draining, "only an Active node can be drained"))
        }
    ]
