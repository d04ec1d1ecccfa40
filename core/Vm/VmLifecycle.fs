/// The life of the cluster's VM on the boot node (docs/design.md §3.4, §5) as a pure state machine around the
/// membership: `step : Lifecycle -> LifecycleEvent -> Lifecycle * LifecycleAction list`. The membership judges
/// who is in, whether the VM may start and what a lost node stops; this machine decides the rest: which start
/// an effect's report is about (the generation), the topology and ACPI tables the VM is assembled with, how long
/// each of its effects may take, and the reason and exit code each way of ending reports. The shell
/// (ClusterController) performs the actions and feeds their outcomes back as events carrying the generation
/// they are about, so the late report of a VM since replaced changes nothing.
module SsiHv.Core.Vm.VmLifecycle

open System
open SsiHv.Core.Acpi
open SsiHv.Core.Cluster
open SsiHv.Core.Paging
open SsiHv.Core.Topology

/// How long the boot node waits on the VM's effects: the node host's configuration, scaled for slow machines.
type VmLimits =
    { /// For a node host to build and start the VM.
      Start: TimeSpan
      /// For a VM told to stop to end, and for a VM past its own time limit to report its end.
      StopGrace: TimeSpan }

/// What a VM was assembled with: the topology GET /v1/topology serves, the tables GET /v1/acpi serves.
type Assembly = { Topology: Topology; Tables: TableSet.GeneratedTable list }

type Lifecycle =
    { Cluster: Membership.Cluster
      /// The boot node's topology file: its distances, HMAT values, caches and name describe the VM.
      Template: Topology option
      Limits: VmLimits
      /// Counts the starts the membership accepted; 0 before the first.
      Generation: int
      /// The assembly of this generation's VM; None when it failed, and before the first start.
      Assembly: Assembly option
      /// Why this generation's VM was asked to stop through the API: the reason its end reports.
      StopRequested: string option }

/// A VM for the shell to start.
type VmLaunch =
    { Generation: int
      Topology: Topology
      Request: VmRequest
      /// Answer VmStartFailed when it does not run within this.
      StartWithin: TimeSpan
      /// Once it runs, answer VmEndUnreported when it has not ended within this: its own time limit, which the
      /// VMM enforces, and the grace for stopping.
      EndWithin: TimeSpan }

/// The end of the VM of `Generation`, as its state and the log report it.
type VmEnd = { Generation: int; Reason: string; ExitCode: int }

type LifecycleEvent =
    | Join of NodeInfo
    /// The boot node's authenticated hello with a joining node succeeded.
    | Connected of NodeId
    | Drain of NodeId
    /// Every page of the draining node is at its new home.
    | DrainComplete of NodeId
    | Leave of NodeId
    | PeerLost of NodeId
    /// The shell's monotonic time, for the membership's pruning of departed members.
    | Tick of now: TimeSpan
    /// POST /v1/vm.
    | StartVm of VmRequest
    /// POST /v1/vm/stop, with the reason the VM's end is to report.
    | StopVm of reason: string
    | VmRunning of generation: int
    | VmEnded of generation: int * VmOutcome
    /// The node host could not start it (its problem), or did not within VmLaunch.StartWithin.
    | VmStartFailed of generation: int * problem: string
    /// No end was reported within VmLaunch.EndWithin.
    | VmEndUnreported of generation: int * problem: string
    /// The VM told to stop for `reason` had not ended within the stop grace.
    | VmStopUnconfirmed of generation: int * reason: string

[<RequireQualifiedAccess>]
type LifecycleAction =
    /// Dial the node's transport address and run the hello; answer Connected (or PeerLost).
    | Connect of NodeInfo
    | Disconnect of NodeId
    /// Move every page homed on `source` to `target`; answer DrainComplete source (or PeerLost source).
    | MovePages of source: NodeId * target: NodeId
    /// Start the VM; answer VmRunning once it runs, then VmEnded (or VmStartFailed, VmEndUnreported).
    | Launch of VmLaunch
    /// Tell the VM of `generation` to stop; answer VmStopUnconfirmed if it has not ended within `confirmWithin`.
    | Stop of generation: int * reason: string * confirmWithin: TimeSpan
    | Reject of Membership.MembershipError

/// The boot node alone, Active, with no VM; departed members are listed for `retention`.
let create (boot: NodeInfo) (template: Topology option) (limits: VmLimits) (retention: TimeSpan) =
    Membership.create boot retention
    |> Result.map (fun cluster ->
        { Cluster = cluster; Template = template; Limits = limits; Generation = 0; Assembly = None; StopRequested = None })

/// The end an event reports, if it reports one: the reason a person reads and the exit code.
let endOf (lifecycle: Lifecycle) (event: LifecycleEvent) : VmEnd option =
    let failed generation reason = Some { Generation = generation; Reason = reason; ExitCode = ExitCode.Failure }
    match event with
    | VmEnded(generation, outcome) ->
        Some { Generation = generation; Reason = VmOutcome.reason outcome; ExitCode = VmOutcome.exitCode outcome }
    | VmStartFailed(generation, problem) -> failed generation ("the VM did not start: " + problem)
    | VmEndUnreported(generation, problem) -> failed generation ("the VM did not report its end: " + problem)
    | VmStopUnconfirmed(generation, reason) ->
        failed generation (reason + " (the VM did not confirm its end within " + string lifecycle.Limits.StopGrace.TotalSeconds + " s)")
    | Join _ | Connected _ | Drain _ | DrainComplete _ | Leave _ | PeerLost _ | Tick _ | StartVm _ | StopVm _ | VmRunning _ -> None

let private isUnderWay (lifecycle: Lifecycle) =
    match lifecycle.Cluster.Vm with
    | Membership.Starting _ | Membership.Running _ -> true
    | Membership.NotStarted | Membership.Stopped _ -> false

/// The membership's actions as the shell performs them; a start's own (AssembleTopology, StartVm) are `start`'s.
let private handOn (lifecycle: Lifecycle) (actions: Membership.MembershipAction list) =
    actions
    |> List.collect (fun action ->
        match action with
        | Membership.MembershipAction.Connect node -> [ LifecycleAction.Connect node ]
        | Membership.MembershipAction.Disconnect node -> [ LifecycleAction.Disconnect node ]
        | Membership.MembershipAction.MovePages(source, target) -> [ LifecycleAction.MovePages(source, target) ]
        | Membership.MembershipAction.StopVm reason -> [ LifecycleAction.Stop(lifecycle.Generation, reason, lifecycle.Limits.StopGrace) ]
        | Membership.MembershipAction.Reject error -> [ LifecycleAction.Reject error ]
        | Membership.MembershipAction.AssembleTopology _ | Membership.MembershipAction.StartVm -> [])

let private withMembership (event: Membership.MembershipEvent) (lifecycle: Lifecycle) =
    let cluster, actions = Membership.step lifecycle.Cluster event
    let lifecycle = { lifecycle with Cluster = cluster }
    lifecycle, handOn lifecycle actions

/// The first end of a VM counts: one decided already (a lost node, an unconfirmed stop) stands, and a stop
/// asked for through the API gives the reason, whatever then ended the VM.
let private finish (vmEnd: VmEnd) (lifecycle: Lifecycle) =
    if vmEnd.Generation = lifecycle.Generation && isUnderWay lifecycle then
        withMembership (Membership.VmStopped(defaultArg lifecycle.StopRequested vmEnd.Reason, vmEnd.ExitCode)) lifecycle
    else lifecycle, []

let private assemble (nodes: NodeInfo list) (template: Topology option) =
    ClusterTopology.assemble nodes template
    |> Result.bind (fun topology ->
        TableSet.build topology
        |> Result.map (fun tables -> { Topology = topology; Tables = tables })
        |> Result.mapError (fun problem -> "the assembled topology does not fit the ACPI tables: " + problem))

/// A start the membership accepts is a new generation, assembled at once; one that cannot be assembled ends
/// before any effect runs.
let private start (request: VmRequest) (lifecycle: Lifecycle) =
    match Membership.step lifecycle.Cluster Membership.StartVm with
    | cluster, [ Membership.MembershipAction.AssembleTopology nodes; Membership.MembershipAction.StartVm ] ->
        let started =
            { lifecycle with Cluster = cluster; Generation = lifecycle.Generation + 1; Assembly = None; StopRequested = None }
        match assemble nodes started.Template with
        | Error reason -> finish { Generation = started.Generation; Reason = reason; ExitCode = ExitCode.Failure } started
        | Ok assembly ->
            { started with Assembly = Some assembly },
            [ LifecycleAction.Launch
                  { Generation = started.Generation
                    Topology = assembly.Topology
                    Request = request
                    StartWithin = started.Limits.Start
                    EndWithin = request.Timeout + started.Limits.StopGrace } ]
    | cluster, actions -> { lifecycle with Cluster = cluster }, handOn lifecycle actions

let private stop (reason: string) (lifecycle: Lifecycle) =
    match lifecycle.Cluster.Vm with
    | Membership.Starting _ | Membership.Running _ ->
        { lifecycle with StopRequested = Some(defaultArg lifecycle.StopRequested reason) },
        [ LifecycleAction.Stop(lifecycle.Generation, reason, lifecycle.Limits.StopGrace) ]
    // Already stopped: asking again changes nothing.
    | Membership.Stopped _ -> lifecycle, []
    | Membership.NotStarted -> lifecycle, [ LifecycleAction.Reject Membership.NoVmStarted ]

let step (lifecycle: Lifecycle) (event: LifecycleEvent) : Lifecycle * LifecycleAction list =
    match event with
    | Join node -> withMembership (Membership.Join node) lifecycle
    | Connected node -> withMembership (Membership.Connected node) lifecycle
    | Drain node -> withMembership (Membership.Drain node) lifecycle
    | DrainComplete node -> withMembership (Membership.DrainComplete node) lifecycle
    | Leave node -> withMembership (Membership.Leave node) lifecycle
    | PeerLost node -> withMembership (Membership.PeerLost node) lifecycle
    | Tick now -> withMembership (Membership.Tick now) lifecycle
    | StartVm request -> start request lifecycle
    | StopVm reason -> stop reason lifecycle
    | VmRunning generation when generation = lifecycle.Generation ->
        let started, actions = withMembership Membership.VmStarted lifecycle
        match lifecycle.Cluster.Vm, started.Cluster.Vm, started.StopRequested with
        // A stop asked for while the VM was being built reached no VM: it is told again now that it runs.
        | Membership.Starting _, Membership.Running _, Some reason ->
            started, actions @ [ LifecycleAction.Stop(started.Generation, reason, started.Limits.StopGrace) ]
        // Its end was decided while it was being built (a stop not confirmed in time, a lost node): it must not
        // run on unwatched.
        | Membership.Stopped(reason, _), _, _ -> lifecycle, [ LifecycleAction.Stop(lifecycle.Generation, reason, lifecycle.Limits.StopGrace) ]
        | _ -> started, actions
    // A VM that was replaced since.
    | VmRunning _ -> lifecycle, []
    | VmEnded _ | VmStartFailed _ | VmEndUnreported _ | VmStopUnconfirmed _ ->
        match endOf lifecycle event with
        | Some vmEnd -> finish vmEnd lifecycle
        | None -> lifecycle, []
