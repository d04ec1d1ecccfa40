/// The boot node's view of the cluster as a pure state machine (docs/design.md §3.4, §4.5):
/// `step : Cluster -> MembershipEvent -> Cluster * MembershipAction list`. The HTTP control plane and the
/// transport feed it events; the shell performs the actions in order. A refused event changes nothing and
/// returns the single action `Reject error`, whose text says what to do instead.
///
/// Nodes go Joining → Active → (Draining →) Left, or Lost from anywhere. A VM is started on the Active nodes;
/// its topology is fixed while it runs (the guest cannot lose CPUs or NUMA nodes), except that a memory-only
/// node may be drained: its pages move to another node homing the VM's memory before it leaves. Losing a
/// node that runs the VM's vCPUs or homes its memory stops the VM as failed, because its pages are gone
/// (replicas, not built yet, would change this: docs/design.md §7). The rest of the VM's life (which start a
/// report is about, the exit code of each other end, the time limits) is VmLifecycle's, which steps this machine.
///
/// Members that are Left or Lost stay listed for a retention period, so an operator sees what happened to them,
/// and are then pruned, so that nodes coming and going do not grow the view without bound. The core has no
/// clock: the shell sends Tick with its monotonic time, and a departure counts from the first Tick that sees it.
module SsiHv.Core.Cluster.Membership

open System
open SsiHv.Core.Topology
open SsiHv.Core.Vm

type MemberState =
    /// Asked to join; the boot node's authenticated hello with it has not succeeded yet.
    | Joining
    | Active
    /// Its pages are moving to another node of the running VM.
    | Draining
    | Left
    /// Its connection died without a leave.
    | Lost

/// The state's name as messages print it ("node 1 is Left").
let stateName (state: MemberState) =
    match state with
    | Joining -> "Joining"
    | Active -> "Active"
    | Draining -> "Draining"
    | Left -> "Left"
    | Lost -> "Lost"

type Member = { Info: NodeInfo; State: MemberState }

/// The nodes a VM was started on, and which of them still home its memory.
type VmTopology = { Nodes: NodeInfo list; MemoryHomes: Set<NodeId> }

type VmState =
    | NotStarted
    | Starting of VmTopology
    | Running of VmTopology
    /// With the exit code GET /v1/vm reports (ExitCode).
    | Stopped of reason: string * exitCode: int

type Cluster =
    { BootNode: NodeId
      Members: Map<NodeId, Member>
      Vm: VmState
      /// How long a Left or Lost member stays listed.
      Retention: TimeSpan
      /// When each Left or Lost member was first seen so by a Tick (the shell's monotonic time).
      Departures: Map<NodeId, TimeSpan> }

/// A Left or Lost member is listed this long by default: long enough to read why it went, short enough that
/// the view stays small.
let defaultRetention = TimeSpan.FromMinutes 10.0

type MembershipEvent =
    | Join of NodeInfo
    /// The boot node's authenticated hello with a joining node succeeded.
    | Connected of NodeId
    | Drain of NodeId
    /// Every page of the draining node is at its new home.
    | DrainComplete of NodeId
    /// The node is taken out on purpose; refused while the VM runs on it or homes memory there.
    | Leave of NodeId
    | PeerLost of NodeId
    | StartVm
    /// Every node host runs its part of the VM.
    | VmStarted
    | VmStopped of reason: string * exitCode: int
    /// The shell's monotonic time now (since the boot node started); prunes members gone for the retention.
    | Tick of now: TimeSpan

type MembershipError =
    | InvalidNode of NodeId * NodeInfoError list
    /// A join under the id of a member that is in; `differences` says how the join differs from it, empty when
    /// it does not (a draining member joining again).
    | AlreadyMember of NodeId * MemberState * differences: string list
    | UnknownNode of NodeId
    | WrongState of NodeId * MemberState * needed: string
    | IsBootNode of NodeId * refused: string
    | NoOtherMemoryHome of NodeId
    | InUseByVm of NodeId
    | VmStarting
    | VmAlreadyStarted
    | StillJoining of NodeId list
    | NoCpus
    | NoMemory
    | NoVmStarting
    | NoVmStarted

module MembershipError =
    let text (error: MembershipError) =
        match error with
        | InvalidNode(id, errors) ->
            let problems = errors |> List.map NodeInfoError.text |> String.concat "; "
            "node " + string id.Value + " cannot join: " + problems
        | AlreadyMember(id, state, []) -> "node " + string id.Value + " has already joined (it is " + stateName state + "); it must leave or be drained before it joins again"
        | AlreadyMember(id, state, differences) ->
            let differing = String.concat "; " differences
            "node " + string id.Value + " is already a member (" + stateName state + ") with other values: " + differing
            + "; one id is one node: let it leave (or drain it) before it joins with these, or give this node another id"
        | UnknownNode id -> "node " + string id.Value + " is not a member of this cluster"
        | WrongState(id, state, needed) -> "node " + string id.Value + " is " + stateName state + "; " + needed
        | IsBootNode(id, refused) ->
            "node " + string id.Value + " is the boot node: it runs the membership and cannot " + refused + "; stop the VM and the cluster instead"
        | NoOtherMemoryHome id ->
            "node " + string id.Value + " homes the only guest memory left that is not draining: there is nowhere to move its pages"
        | InUseByVm id -> "node " + string id.Value + " runs vCPUs or homes memory of the VM; drain it (memory-only nodes) or stop the VM first"
        | VmStarting -> "the VM is starting; retry once it runs"
        | VmAlreadyStarted -> "the VM is already starting or running; stop it first"
        | StillJoining ids ->
            let joining = ids |> List.map (fun id -> string id.Value) |> String.concat ", "
            "node(s) " + joining + " are still joining (no authenticated hello yet); wait for them or let them leave"
        | NoCpus -> "no active node contributes CPUs: join a node with cpus > 0"
        | NoMemory -> "no active node contributes memory: join a node with memoryMiB > 0"
        | NoVmStarting -> "no VM is starting"
        | NoVmStarted -> "no VM has been started"

[<RequireQualifiedAccess>]
type MembershipAction =
    /// Dial the node's transport address and run the hello; answer with Connected (or PeerLost).
    | Connect of NodeInfo
    | Disconnect of NodeId
    /// Build the topology, memory layout and ACPI tables of the VM from these nodes (in id order).
    | AssembleTopology of NodeInfo list
    /// Start the VM on the topology just assembled; answer with VmStarted.
    | StartVm
    /// Move every page homed on `source` to `target`; answer with DrainComplete source.
    | MovePages of source: NodeId * target: NodeId
    | StopVm of reason: string
    | Reject of MembershipError

/// The node's contribution under the rules every input path shares (NodeInfo.validate).
let private validate kind (info: NodeInfo) =
    NodeInfo.validate kind info |> Result.mapError (fun errors -> InvalidNode(info.Id, errors))

/// A cluster of the boot node alone, Active, with no VM; Left and Lost members are pruned after `retention`.
let create (boot: NodeInfo) (retention: TimeSpan) =
    validate NodeKind.Boot boot
    |> Result.map (fun boot ->
        { BootNode = boot.Id; Members = Map.ofList [ boot.Id, { Info = boot; State = Active } ]; Vm = NotStarted
          Retention = retention; Departures = Map.empty })

/// How `asked` differs from `current`, field by field as a join spells them: "memoryMiB 512, asked 1024".
let differences (current: NodeInfo) (asked: NodeInfo) =
    let initiator (i: NodeId option) = match i with Some i -> string i | None -> "none"
    [ if current.Cpus <> asked.Cpus then "cpus " + string current.Cpus + ", asked " + string asked.Cpus
      if current.MemoryMiB <> asked.MemoryMiB then "memoryMiB " + string current.MemoryMiB + ", asked " + string asked.MemoryMiB
      if current.Address <> asked.Address then "address " + current.Address + ", asked " + asked.Address
      if current.Initiator <> asked.Initiator then
          "initiator " + initiator current.Initiator + ", asked " + initiator asked.Initiator ]

let stateOf (id: NodeId) (cluster: Cluster) = cluster.Members |> Map.tryFind id |> Option.map (fun m -> m.State)

let nodesIn (state: MemberState) (cluster: Cluster) =
    cluster.Members |> Map.toList |> List.filter (fun (_, m) -> m.State = state) |> List.map fst

/// The VM whose topology is fixed now, if any.
let private vmTopology (vm: VmState) =
    match vm with
    | Starting topology | Running topology -> Some topology
    | NotStarted | Stopped _ -> None

let private usesNode (topology: VmTopology) (info: NodeInfo) =
    info.Cpus > 0 && topology.Nodes |> List.exists (fun n -> n.Id = info.Id) || topology.MemoryHomes.Contains info.Id

let private withState id state cluster =
    { cluster with Members = cluster.Members |> Map.change id (Option.map (fun m -> { m with State = state })) }

let private reject cluster error = cluster, [ MembershipAction.Reject error ]

/// The VM is gone, so pages being drained have nowhere left to matter: draining nodes leave.
let private stopVm reason exitCode cluster =
    let draining = nodesIn Draining cluster
    let cluster = draining |> List.fold (fun c id -> withState id Left c) { cluster with Vm = Stopped(reason, exitCode) }
    cluster, draining |> List.map MembershipAction.Disconnect

/// Applies `f` to an existing member, refusing unknown ids and the boot node when `bootRefusal` names what
/// the event would do to it.
let private withMember id (bootRefusal: string option) cluster f =
    match Map.tryFind id cluster.Members, bootRefusal with
    | None, _ -> reject cluster (UnknownNode id)
    | Some _, Some refused when id = cluster.BootNode -> reject cluster (IsBootNode(id, refused))
    | Some m, _ -> f m

/// Every node but the boot node joins, and only the boot node contributes CPUs today.
let private join (info: NodeInfo) cluster =
    match validate NodeKind.Memory info with
    | Error e -> reject cluster e
    | Ok info ->
        match stateOf info.Id cluster with
        // The same join again: its reply was lost (a slow boot node answered after the joiner's HTTP timeout),
        // so the joiner retried. It is already in; refusing would make it give up on a cluster it belongs to.
        | Some(Joining | Active) when cluster.Members.[info.Id].Info = info -> cluster, []
        | Some((Joining | Active | Draining) as state) ->
            reject cluster (AlreadyMember(info.Id, state, differences cluster.Members.[info.Id].Info info))
        // A node that left or was lost comes back: it is in again, under whatever it now contributes.
        | None | Some Left | Some Lost ->
            { cluster with
                Members = cluster.Members |> Map.add info.Id { Info = info; State = Joining }
                Departures = cluster.Departures.Remove info.Id },
            [ MembershipAction.Connect info ]

let private drain (m: Member) cluster =
    let id = m.Info.Id
    match m.State, cluster.Vm with
    | state, _ when state <> Active -> reject cluster (WrongState(id, state, "only an Active node can be drained"))
    | _, Starting topology when usesNode topology m.Info -> reject cluster VmStarting
    // A node drained here runs no vCPUs: the boot node, the only one with CPUs (every other member joined as a
    // memory node, NodeInfo.validate), is refused before (withMember). What it holds of the VM is memory.
    | _, Running topology when usesNode topology m.Info ->
        let draining = set (nodesIn Draining cluster)
        match topology.MemoryHomes |> Set.filter (fun n -> n <> id && not (draining.Contains n)) |> Set.toList with
        | [] -> reject cluster (NoOtherMemoryHome id)
        | target :: _ -> withState id Draining cluster, [ MembershipAction.MovePages(id, target) ]
    // Nothing of the VM lives there: the node can go at once.
    | _ -> withState id Left cluster, [ MembershipAction.Disconnect id ]

let private drainComplete (m: Member) cluster =
    match m.State, cluster.Vm with
    | Draining, Running topology ->
        let topology = { topology with MemoryHomes = topology.MemoryHomes.Remove m.Info.Id }
        withState m.Info.Id Left { cluster with Vm = Running topology }, [ MembershipAction.Disconnect m.Info.Id ]
    | state, _ -> reject cluster (WrongState(m.Info.Id, state, "DrainComplete needs a Draining node"))

let private leave (m: Member) cluster =
    match m.State, vmTopology cluster.Vm with
    | (Left | Lost | Draining) as state, _ ->
        reject cluster (WrongState(m.Info.Id, state, "only a Joining or Active node can leave (a draining one leaves when its drain completes)"))
    | _, Some topology when usesNode topology m.Info -> reject cluster (InUseByVm m.Info.Id)
    | _ -> withState m.Info.Id Left cluster, [ MembershipAction.Disconnect m.Info.Id ]

let private lost (m: Member) cluster =
    let id = m.Info.Id
    match m.State, vmTopology cluster.Vm with
    | (Left | Lost) as state, _ -> reject cluster (WrongState(id, state, "only a connected node can be lost"))
    | _, Some topology when usesNode topology m.Info ->
        let roles =
            [ if m.Info.Cpus > 0 && topology.Nodes |> List.exists (fun n -> n.Id = id) then "ran " + string m.Info.Cpus + " vCPUs"
              if topology.MemoryHomes.Contains id then "homed guest memory" ]
            |> String.concat " and "
        let reason = "node " + string id.Value + " was lost; it " + roles + " of the VM"
        let cluster, disconnects = stopVm reason ExitCode.Failure (withState id Lost cluster)
        cluster, MembershipAction.StopVm reason :: disconnects
    | _ -> withState id Lost cluster, []

let private startVm cluster =
    match cluster.Vm, nodesIn Joining cluster with
    | (Starting _ | Running _), _ -> reject cluster VmAlreadyStarted
    | _, (_ :: _ as joining) -> reject cluster (StillJoining joining)
    | _, [] ->
        let nodes = nodesIn Active cluster |> List.map (fun id -> cluster.Members.[id].Info)
        if nodes |> List.sumBy (fun n -> n.Cpus) = 0 then reject cluster NoCpus
        elif nodes |> List.sumBy (fun n -> n.MemoryMiB) = 0L then reject cluster NoMemory
        else
            let homes = nodes |> List.filter (fun n -> n.MemoryMiB > 0L) |> List.map (fun n -> n.Id) |> set
            { cluster with Vm = Starting { Nodes = nodes; MemoryHomes = homes } },
            [ MembershipAction.AssembleTopology nodes; MembershipAction.StartVm ]

/// Stamps the departures this Tick sees first and prunes those older than the retention. A pruned Lost node's
/// transport peer is removed too (a Left one's was when it left); the running VM uses neither.
let private tick (now: TimeSpan) cluster =
    let departures =
        cluster.Members
        |> Map.filter (fun _ m -> m.State = Left || m.State = Lost)
        |> Map.map (fun id _ -> cluster.Departures |> Map.tryFind id |> Option.defaultValue now)
    let expired = departures |> Map.filter (fun _ since -> now - since >= cluster.Retention) |> Map.keys |> List.ofSeq
    let lost = expired |> List.filter (fun id -> cluster.Members.[id].State = Lost)
    { cluster with
        Members = expired |> List.fold (fun members id -> Map.remove id members) cluster.Members
        Departures = expired |> List.fold (fun d id -> Map.remove id d) departures },
    lost |> List.map MembershipAction.Disconnect

let step (cluster: Cluster) (event: MembershipEvent) : Cluster * MembershipAction list =
    match event with
    | Tick now -> tick now cluster
    | Join info -> join info cluster
    | Connected id ->
        withMember id None cluster (fun m ->
            match m.State with
            | Joining -> withState id Active cluster, []
            | state -> reject cluster (WrongState(id, state, "Connected needs a Joining node")))
    | Drain id -> withMember id (Some "be drained") cluster (fun m -> drain m cluster)
    | DrainComplete id -> withMember id None cluster (fun m -> drainComplete m cluster)
    | Leave id -> withMember id (Some "leave") cluster (fun m -> leave m cluster)
    | PeerLost id -> withMember id (Some "be lost by itself") cluster (fun m -> lost m cluster)
    | StartVm -> startVm cluster
    | VmStarted ->
        match cluster.Vm with
        | Starting topology -> { cluster with Vm = Running topology }, []
        | _ -> reject cluster NoVmStarting
    | VmStopped(reason, exitCode) ->
        match cluster.Vm with
        | Starting _ | Running _ -> stopVm reason exitCode cluster
        // We asked for it with StopVm: the first reason and exit code stay.
        | Stopped _ -> cluster, []
        | NotStarted -> reject cluster NoVmStarted
