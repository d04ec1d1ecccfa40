module SsiHv.PropertyTests.Vm.VmLifecycleProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster
open SsiHv.Core.Vm
open SsiHv.Core.Vm.VmLifecycle

let private config = { FsCheckConfig.defaultConfig with maxTest = 300; endSize = 80 }

let private limits = { Start = TimeSpan.FromSeconds 120.0; StopGrace = TimeSpan.FromSeconds 30.0 }

let private boot: NodeInfo = { Id = NodeId 0; Cpus = 2; MemoryMiB = 1024L; Address = "10.0.0.1:7100"; Initiator = None }

let private memoryNode id : NodeInfo =
    { Id = id; Cpus = 0; MemoryMiB = 512L; Address = sprintf "10.0.0.%d:7100" (id.Value + 1); Initiator = Some(NodeId 0) }

let private createWith template =
    match create boot template limits Membership.defaultRetention with
    | Ok lifecycle -> lifecycle
    | Error e -> failwith (Membership.MembershipError.text e)

let private created = createWith None

let private probeFor (seconds: float) = { Guest = { Image = Probe; Append = "" }; Timeout = TimeSpan.FromSeconds seconds }

/// Which VM a generated report is about, resolved when it is fed: the current one, the one before it (a report
/// that arrives after its VM was replaced), or one that was never started.
type private Whose =
    | Current
    | Previous
    | Next

type private Report =
    | Runs
    | Ends of VmOutcome
    | DidNotStart
    | EndNotReported
    | StopNotConfirmed of reason: string

/// An event as generated: a report's generation is only known once the events before it have been fed.
type private Generated =
    | Event of LifecycleEvent
    | ReportOf of Whose * Report

let private outcomes =
    Gen.elements
        [ PoweredOff; Reset; TimedOut(TimeSpan.FromSeconds 300.0, "vcpu 0: rip=0x1000"); Crashed "triple fault"
          Stopped "the pager stopped: EIO" ]

let private reports =
    Gen.frequency
        [ 2, Gen.constant Runs
          4, Gen.map Ends outcomes
          1, Gen.constant DidNotStart
          1, Gen.constant EndNotReported
          1, Gen.elements [ StopNotConfirmed "stopped through POST /v1/vm/stop"; StopNotConfirmed "node 1 was lost" ] ]

let private requests =
    Gen.map2
        (fun image seconds -> { Guest = { Image = image; Append = "" }; Timeout = TimeSpan.FromSeconds(float seconds) })
        (Gen.elements [ Probe; Kernel("/boot/vmlinuz", Some "/boot/initrd.img") ])
        (Gen.choose (1, 600))

/// Events as the controller feeds them: requests, the transport's news and the effects' reports, mostly about
/// the current VM, sometimes late or out of place.
let private events =
    let nodeIds = Gen.choose (0, 3) |> Gen.map NodeId
    let memoryNodeIds = Gen.choose (1, 3) |> Gen.map NodeId
    Gen.frequency
        [ 3, memoryNodeIds |> Gen.map (fun id -> [ Event(Join(memoryNode id)); Event(Connected id) ])
          1, memoryNodeIds |> Gen.map (fun id -> [ Event(Join(memoryNode id)) ])
          2, nodeIds |> Gen.map (fun id -> [ Event(Drain id) ])
          2, nodeIds |> Gen.map (fun id -> [ Event(DrainComplete id) ])
          1, nodeIds |> Gen.map (fun id -> [ Event(Leave id) ])
          2, nodeIds |> Gen.map (fun id -> [ Event(PeerLost id) ])
          3, requests |> Gen.map (fun request -> [ Event(StartVm request); ReportOf(Current, Runs) ])
          1, requests |> Gen.map (fun request -> [ Event(StartVm request) ])
          2, Gen.elements [ "stopped through POST /v1/vm/stop"; "ssihv up was interrupted" ] |> Gen.map (fun reason -> [ Event(StopVm reason) ])
          5, Gen.map2 (fun whose report -> [ ReportOf(whose, report) ]) (Gen.frequency [ 6, Gen.constant Current; 1, Gen.constant Previous; 1, Gen.constant Next ]) reports ]
    |> Gen.listOf
    |> Gen.map List.concat

let private resolve (lifecycle: Lifecycle) (generated: Generated) =
    match generated with
    | Event e -> e
    | ReportOf(whose, report) ->
        let generation =
            match whose with
            | Current -> lifecycle.Generation
            | Previous -> lifecycle.Generation - 1
            | Next -> lifecycle.Generation + 1
        match report with
        | Runs -> VmRunning generation
        | Ends outcome -> VmEnded(generation, outcome)
        | DidNotStart -> VmStartFailed(generation, "no answer within 120 s")
        | EndNotReported -> VmEndUnreported(generation, "no answer within 330 s")
        | StopNotConfirmed reason -> VmStopUnconfirmed(generation, reason)

/// The model: the VM's phase with the reason and exit code it ended with, how many starts were accepted, the
/// first stop asked for through the API, and whether the current VM was assembled.
type private Phase =
    | NotStarted
    | Starting
    | Running
    | Ended of reason: string * exitCode: int

type private Model = { Generation: int; Phase: Phase; StopRequested: string option; Assembled: bool }

let private phaseOf (vm: Membership.VmState) =
    match vm with
    | Membership.NotStarted -> NotStarted
    | Membership.Starting _ -> Starting
    | Membership.Running _ -> Running
    | Membership.Stopped(reason, exitCode) -> Ended(reason, exitCode)

/// Only a guest that ended the run itself succeeded.
let private expectedExitCode (event: LifecycleEvent) =
    match event with
    | VmEnded(_, (PoweredOff | Reset)) -> 0
    | _ -> 1

let private isUnderWay phase = match phase with Starting | Running -> true | NotStarted | Ended _ -> false

let private stopsIn actions = actions |> List.choose (function LifecycleAction.Stop(g, reason, within) -> Some(g, reason, within) | _ -> None)

/// The next model and, where this machine alone decides them, the actions; None leaves the actions to the
/// membership (who joins, drains, leaves), whose own properties check them.
let private expect (model: Model) (before: Lifecycle) (event: LifecycleEvent) (after: Lifecycle) actions =
    let unchanged = model, Some []
    let disconnectsOfDraining () =
        Membership.nodesIn Membership.Draining before.Cluster |> List.map LifecycleAction.Disconnect
    match event with
    | StartVm _ when isUnderWay model.Phase -> model, Some [ LifecycleAction.Reject Membership.VmAlreadyStarted ]
    // Nodes still joining: the membership's refusal.
    | StartVm _ when (match actions with [ LifecycleAction.Reject(Membership.StillJoining _) ] -> true | _ -> false) -> model, None
    // A start the membership accepts is launched on the assembly of the active nodes, and ends at once with the
    // reason they cannot be assembled (ids with a gap, here).
    | StartVm request ->
        let generation = model.Generation + 1
        let active = Membership.nodesIn Membership.Active before.Cluster |> List.map (fun id -> before.Cluster.Members.[id].Info)
        match ClusterTopology.assemble active None, after.Assembly with
        | Ok topology, Some assembly when assembly.Topology = topology ->
            { Generation = generation; Phase = Starting; StopRequested = None; Assembled = true },
            Some [ LifecycleAction.Launch
                       { Generation = generation; Topology = topology; Request = request; StartWithin = limits.Start
                         EndWithin = request.Timeout + limits.StopGrace } ]
        | Ok _, _ -> { Generation = generation; Phase = Starting; StopRequested = None; Assembled = true }, None
        | Error reason, _ -> { Generation = generation; Phase = Ended(reason, 1); StopRequested = None; Assembled = false }, Some []
    | StopVm reason ->
        match model.Phase with
        | Starting | Running ->
            { model with StopRequested = Some(defaultArg model.StopRequested reason) },
            Some [ LifecycleAction.Stop(model.Generation, reason, limits.StopGrace) ]
        | Ended _ -> unchanged
        | NotStarted -> model, Some [ LifecycleAction.Reject Membership.NoVmStarted ]
    | VmRunning generation when generation <> model.Generation -> unchanged
    // The node host builds the VM before it can be stopped: a stop asked for meanwhile is told again.
    | VmRunning _ when model.Phase = Starting ->
        { model with Phase = Running },
        Some(model.StopRequested |> Option.map (fun reason -> LifecycleAction.Stop(model.Generation, reason, limits.StopGrace)) |> Option.toList)
    | VmRunning _ ->
        match model.Phase with
        // A VM whose end was decided while it was being built is stopped when it reports running.
        | Ended(reason, _) -> model, Some [ LifecycleAction.Stop(model.Generation, reason, limits.StopGrace) ]
        | NotStarted | Starting | Running -> model, Some [ LifecycleAction.Reject Membership.NoVmStarting ]
    | VmEnded(generation, _) | VmStartFailed(generation, _) | VmEndUnreported(generation, _) | VmStopUnconfirmed(generation, _) ->
        if generation <> model.Generation || not (isUnderWay model.Phase) then unchanged
        else
            let reason = defaultArg model.StopRequested (endOf before event).Value.Reason
            { model with Phase = Ended(reason, expectedExitCode event) }, Some(disconnectsOfDraining ())
    // Losing a node that runs the VM or homes its memory ends the VM as failed, with the loss as its reason.
    | PeerLost _ ->
        match stopsIn actions with
        | [ (_, reason, _) ] when isUnderWay model.Phase -> { model with Phase = Ended(reason, 1) }, None
        | _ -> model, None
    | Join _ | Connected _ | Drain _ | DrainComplete _ | Leave _ | Tick _ -> model, None

/// What must hold after every step; the failures name the broken rule.
let private problems (model: Model) (before: Lifecycle) (after: Lifecycle) expectedActions actions =
    [ if phaseOf after.Cluster.Vm <> model.Phase then sprintf "the VM is %A, the model says %A" (phaseOf after.Cluster.Vm) model.Phase
      if after.Generation <> model.Generation then sprintf "generation %d, the model counts %d starts" after.Generation model.Generation
      if after.StopRequested <> model.StopRequested then
          sprintf "the stop asked for is %A, the model says %A" after.StopRequested model.StopRequested
      if after.Assembly.IsSome <> model.Assembled then sprintf "the VM's assembly is %A, the model says assembled = %b" after.Assembly model.Assembled
      match expectedActions with
      | Some expected when expected <> actions -> sprintf "actions %A, expected %A" actions expected
      | _ -> ()
      for generation, _, within in stopsIn actions do
          if generation <> after.Generation || within <> limits.StopGrace then
              sprintf "a stop for generation %d within %O, expected generation %d within %O" generation within after.Generation limits.StopGrace
      if (match actions with [ LifecycleAction.Reject _ ] -> true | _ -> false) && after <> before then "a refused event changed the state" ]

let private run (generated: Generated list) =
    generated
    |> List.fold
        (fun (lifecycle, model, found) generated ->
            let event = resolve lifecycle generated
            let after, actions = step lifecycle event
            let model, expectedActions = expect model lifecycle event after actions
            after, model, found @ (problems model lifecycle after expectedActions actions |> List.map (sprintf "%A: %s" event)))
        (created, { Generation = 0; Phase = NotStarted; StopRequested = None; Assembled = false }, [])
    |> fun (_, _, found) -> found

let private apply (lifecycle: Lifecycle) events = events |> List.fold (fun l e -> fst (step l e)) lifecycle

/// A VM running on the boot node and memory node 1: generation 1.
let private running = apply created [ Join(memoryNode(NodeId 1)); Connected(NodeId 1); StartVm(probeFor 60.0); VmRunning 1 ]

let private stoppedAs (lifecycle: Lifecycle) =
    match lifecycle.Cluster.Vm with
    | Membership.Stopped(reason, exitCode) -> Some(reason, exitCode)
    | _ -> None

let tests =
    testList "VM lifecycle" [
        testPropertyWithConfig config "generated event sequences agree with the model of the VM's life" <|
            Prop.forAll (Arb.fromGen events) (fun events ->
                let found = run events
                if List.isEmpty found then true else failwithf "%s" (String.concat "\n" found))

        test "generated event sequences reach every way a VM ends, late reports and stops asked for" {
            // Guards the generator: the model above means little if these situations never occur.
            let situations (before: Lifecycle) event (after: Lifecycle) =
                [ match stoppedAs before, stoppedAs after, event with
                  | None, Some _, VmEnded(_, outcome) ->
                      match outcome with
                      | PoweredOff -> "powered off"
                      | Reset -> "reset"
                      | TimedOut _ -> "timed out"
                      | Crashed _ -> "crashed"
                      | Stopped _ -> "stopped"
                  | None, Some _, StartVm _ -> "not assembled"
                  | None, Some _, VmStartFailed _ -> "did not start"
                  | None, Some _, VmEndUnreported _ -> "end not reported"
                  | None, Some _, VmStopUnconfirmed _ -> "stop not confirmed"
                  | None, Some _, PeerLost _ -> "a node lost"
                  | _ -> ()
                  match event with
                  | VmEnded(generation, _) when generation < before.Generation -> "a late report"
                  | StopVm _ when before.StopRequested.IsNone && after.StopRequested.IsSome -> "a stop asked for"
                  | VmRunning _ when before.StopRequested.IsSome && phaseOf before.Cluster.Vm = Starting -> "a stop asked for while starting"
                  | StartVm _ when before.Generation > 0 && after.Generation > before.Generation -> "a second start"
                  | _ -> () ]
            let reached =
                Gen.sampleWithSize 60 300 events
                |> Array.toList
                |> List.collect (fun generated ->
                    generated
                    |> List.fold
                        (fun (lifecycle, found) g ->
                            let event = resolve lifecycle g
                            let after = fst (step lifecycle event)
                            after, found @ situations lifecycle event after)
                        (created, [])
                    |> snd)
                |> set
            let expected =
                set [ "powered off"; "reset"; "timed out"; "crashed"; "stopped"; "not assembled"; "did not start"; "end not reported"; "stop not confirmed"; "a node lost"; "a late report"; "a stop asked for"
                      "a stop asked for while starting"; "a second start" ]
            Expect.equal reached expected "every situation occurs"
        }

        test "each way a VM ends reports its reason and exit code" {
            let endsAs events = stoppedAs (apply running events)
            let cases =
                [ [ VmEnded(1, PoweredOff) ], ("the guest powered off", 0)
                  // The guest asked for it: a cluster VM is not booted again, and its run succeeded.
                  [ VmEnded(1, Reset) ], ("the guest reset", 0)
                  [ VmEnded(1, TimedOut(TimeSpan.FromSeconds 300.0, "vcpu 0: rip=0x1000")) ],
                  ("the guest was still running after 300 s; stopped it\nvcpu 0: rip=0x1000", 1)
                  [ VmEnded(1, Crashed "triple fault at rip 0x1000") ], ("the guest failed: triple fault at rip 0x1000", 1)
                  [ VmEnded(1, Stopped "the pager stopped: EIO") ], ("the pager stopped: EIO", 1)
                  [ VmStartFailed(1, "no answer within 120 s") ], ("the VM did not start: no answer within 120 s", 1)
                  [ VmEndUnreported(1, "no answer within 90 s") ], ("the VM did not report its end: no answer within 90 s", 1)
                  [ VmStopUnconfirmed(1, "ssihv up was interrupted") ], ("ssihv up was interrupted (the VM did not confirm its end within 30 s)", 1)
                  [ PeerLost(NodeId 1) ], ("node 1 was lost; it homed guest memory of the VM", 1)
                  // A stop asked for through the API gives the reason; how the VM then ended gives the exit code.
                  [ StopVm "stopped through POST /v1/vm/stop"; VmEnded(1, PoweredOff) ], ("stopped through POST /v1/vm/stop", 0)
                  [ StopVm "stopped through POST /v1/vm/stop"; VmEnded(1, Stopped "stopped through POST /v1/vm/stop") ],
                  ("stopped through POST /v1/vm/stop", 1)
                  [ StopVm "stopped through POST /v1/vm/stop"; VmStopUnconfirmed(1, "stopped through POST /v1/vm/stop") ],
                  ("stopped through POST /v1/vm/stop", 1)
                  // The first end stands.
                  [ PeerLost(NodeId 1); VmEnded(1, Stopped "node 1 was lost; it homed guest memory of the VM") ],
                  ("node 1 was lost; it homed guest memory of the VM", 1)
                  [ VmEnded(1, PoweredOff); VmStopUnconfirmed(1, "ssihv up was interrupted") ], ("the guest powered off", 0) ]
            for events, expected in cases do
                Expect.equal (endsAs events) (Some expected) (sprintf "%A" events)
        }

        test "a start is a new generation launched within the limits; its assembly is what the API serves" {
            let request = probeFor 60.0
            let joined = apply created [ Join(memoryNode(NodeId 1)); Connected(NodeId 1) ]
            let started, actions = step joined (StartVm request)
            let assembly = started.Assembly.Value
            Expect.equal (assembly.Topology.Nodes |> List.map (fun n -> n.Id)) [ NodeId 0; NodeId 1 ] "the active nodes"
            Expect.isNonEmpty (assembly.Tables |> List.filter (fun t -> t.Signature = "SRAT")) "its SRAT"
            Expect.equal actions
                [ LifecycleAction.Launch
                      { Generation = 1; Topology = assembly.Topology; Request = request; StartWithin = TimeSpan.FromSeconds 120.0
                        EndWithin = TimeSpan.FromSeconds 90.0 } ] "launched with the start limit, its own limit and the grace"
            let again, actions = step (apply started [ VmRunning 1; VmEnded(1, PoweredOff) ]) (StartVm request)
            Expect.equal again.Generation 2 "the next start is the next generation"
            Expect.equal (fst (step again (VmEnded(1, Crashed "late")))) again "a late report of the replaced VM changes nothing"
            Expect.equal (step again (StopVm "stop")) ({ again with StopRequested = Some "stop" }, [ LifecycleAction.Stop(2, "stop", TimeSpan.FromSeconds 30.0) ])
                "a stop is for the current VM, to be confirmed within the grace"
        }

        test "a topology file the active nodes do not match ends the start before any effect runs" {
            let template = (apply created [ Join(memoryNode(NodeId 1)); Connected(NodeId 1); StartVm(probeFor 60.0) ]).Assembly.Value.Topology
            let started, actions = step (createWith (Some template)) (StartVm(probeFor 60.0))
            Expect.equal actions [] "nothing is launched"
            Expect.isNone started.Assembly "no topology or tables to serve"
            Expect.equal started.Generation 1 "it was a start all the same"
            match stoppedAs started with
            | Some(reason, 1) -> Expect.stringContains reason "topology file" "the mismatch is the reason"
            | other -> failwithf "expected the VM stopped as failed, found %A" other
        }

        test "a stop asked for while the VM is being built is told again once it runs" {
            let starting = apply created [ Join(memoryNode(NodeId 1)); Connected(NodeId 1); StartVm(probeFor 60.0) ]
            let asked, first = step starting (StopVm "stopped through POST /v1/vm/stop")
            let stop = LifecycleAction.Stop(1, "stopped through POST /v1/vm/stop", TimeSpan.FromSeconds 30.0)
            Expect.equal first [ stop ] "told at once, although no VM may exist yet to hear it"
            Expect.equal (snd (step asked (VmRunning 1))) [ stop ] "told again once it runs"
            Expect.equal (snd (step running (VmRunning 1))) [ Membership.NoVmStarting |> LifecycleAction.Reject ] "not for a second report"
            let unconfirmed = fst (step asked (VmStopUnconfirmed(1, "stopped through POST /v1/vm/stop")))
            Expect.equal (step unconfirmed (VmRunning 1))
                (unconfirmed, [ stop ])
                "a VM that comes up after its end was decided is stopped, and its end stands"
        }

        test "a stop is refused before any VM and changes nothing once the VM has ended" {
            Expect.equal (step created (StopVm "stop")) (created, [ LifecycleAction.Reject Membership.NoVmStarted ]) "no VM yet"
            let ended = apply running [ VmEnded(1, PoweredOff) ]
            Expect.equal (step ended (StopVm "stop")) (ended, []) "already stopped"
        }

        test "a request's time limit defaults to 300 s and is above 0 and at most a day" {
            let probe = { Guest = Some "probe"; Kernel = None; Initrd = None; Append = None }
            Expect.equal (VmRequest.parse probe None) (Ok(probeFor 300.0)) "the default"
            Expect.equal (VmRequest.parse probe (Some 86400.0)) (Ok(probeFor 86400.0)) "a day"
            for seconds in [ 0.0; -3.0; 86400.5 ] do
                Expect.equal (VmRequest.parse probe (Some seconds)) (Error(TimeoutOutOfRange seconds)) (string seconds)
            Expect.equal (VmRequestError.text (TimeoutOutOfRange 0.0))
                "timeoutSeconds: expected a number of seconds above 0 and at most 86400, found 0" "names the field, the range and what was found"
            Expect.equal (VmRequest.parse { probe with Guest = Some "doom" } None) (Error(InvalidGuest(UnknownGuest "doom"))) "the guest's rules"
        }

        test "a cluster VM's memory budget is the configured one, or else the whole guest" {
            let topology = running.Assembly.Value.Topology
            Expect.equal (MemoryBudget.ofClusterVm (Some 256L) topology) (256UL <<< 20) "configured"
            Expect.equal (MemoryBudget.ofClusterVm None topology) ((1024UL + 512UL) <<< 20) "the whole guest"
        }
    ]
