/// Model-based tests of a peer's liveness. A generated command list drives the real `PeerLiveness.step`, wrapped
/// in a simulated shell that performs its actions the way PeerLink does (dials that finish when a command says,
/// waits that end when a command says or the clock passes them, closes that report the connection's end back),
/// and a model of the rules docs/transport.md states: which connection is current, which reconnect window is
/// open with what deadline, whether the loss was reported since the last successful dial, whether the peer
/// was removed. Connections are numbered in dialling order.
///
/// Checked at every event: the phase is the model's; PeerLost is raised exactly when the model says (the
/// current connection found silent, or a redial of the open window failing at or after its deadline), so at
/// most once between successful dials; an open window always has exactly one redial or wait under way, each
/// wait at most the redial interval and ending by the deadline; after the removal nothing happens but the
/// refusal of a dial that was under way. At the end every redial fails, as for a peer gone for good, and no
/// window may outlive its redials.
module SsiHv.PropertyTests.Transport.PeerLivenessProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport

let private config = { FsCheckConfig.defaultConfig with maxTest = 500; endSize = 80 }

type Command =
    /// A request dials and succeeds (skipped while a connection is open). After the removal no dial starts,
    /// so this is a dial that was under way: it ends now.
    | RequestDial
    /// The open connection's socket closes and a request's dial succeeds before its end is reported.
    | DialRacingClose
    /// The oldest redial in flight ends; a success on a peer already connected returns that connection.
    | CompleteRedial of succeeds: bool
    /// The earliest wait ends, the clock moving to its end if that is later.
    | EndWait
    | Pass of ms: int
    /// The open connection ends (peer closed, reset, failed send).
    | PeerCloses
    /// The keep-alive finds the open connection silent.
    | GoesSilent
    /// The end (or silence) of a connection already closed is reported again.
    | LateNews of silent: bool
    | RemovePeer

type Window = { Broken: int; Reason: string; DeadlineMs: int64 }

type Model =
    { Current: int option
      Window: Window option
      LostReported: bool
      Removed: bool }

type World =
    { Liveness: PeerLiveness<int>
      NowMs: int64
      NextConnection: int
      /// Dialled and not closed, oldest first.
      Open: int list
      /// Redials in flight (the window they were asked for), oldest first.
      Redials: int list
      /// Waits of RedialAfter: (window, end on the clock).
      Waits: (int * int64) list
      /// The reason of every PeerLost, newest first.
      Losses: string list
      Model: Model
      Violations: string list }

let private violation message (world: World) = { world with Violations = message :: world.Violations }

let private expectedPhase (model: Model) =
    match model with
    | { Removed = true } -> Removed
    | { Current = Some connection } -> Connected connection
    | { Window = Some w } -> Reconnecting { Broken = w.Broken; Reason = w.Reason; DeadlineMs = w.DeadlineMs }
    | { LostReported = true } -> Lost
    | _ -> Unconnected

/// The rules, as facts about the event: what the model becomes, and whether the peer must be reported lost now
/// (with the parts its reason must contain; the exact text is an example test's business).
let private judge (model: Model) (windowMs: int64) (event: LivenessEvent<int>) =
    match event with
    | _ when model.Removed -> model, None
    | Dialled connection -> { model with Current = Some connection; Window = None; LostReported = false }, None
    | ConnectionClosed(connection, reason, nowMs) when model.Current = Some connection ->
        { model with Current = None; Window = Some { Broken = connection; Reason = reason; DeadlineMs = nowMs + windowMs } }, None
    | Silent(connection, reason) when model.Current = Some connection ->
        { model with Current = None; LostReported = true }, Some [ reason ]
    | RedialFailed(broken, error, nowMs) ->
        match model.Window with
        | Some w when w.Broken = broken && nowMs >= w.DeadlineMs ->
            { model with Window = None; LostReported = true }, Some [ sprintf "(%s)" w.Reason; sprintf "last attempt: %s" error ]
        | _ -> model, None
    | Remove _ -> { model with Current = None; Window = None; Removed = true }, None
    | ConnectionClosed _ | Silent _ | RedialDue _ -> model, None

let private lostReasons actions = actions |> List.choose (function RaiseLost reason -> Some reason | _ -> None)

let private lossProblems (before: Model) actions (expected: string list option) =
    match lostReasons actions, expected with
    | [], None -> []
    | [ reason ], Some parts when parts |> List.forall reason.Contains ->
        if before.LostReported then [ "a second PeerLost without a successful dial between" ] else []
    | raised, _ -> [ sprintf "PeerLost %A, the model says %A" raised expected ]

/// What must hold of one step, beyond the phase and the losses the model predicts.
let private problems (before: Model) (event: LivenessEvent<int>) (world: World) actions =
    [ if before.Removed then
          match event, actions with
          | Dialled connection, [ RefuseConnection(refused, _) ] when refused = connection -> ()
          | Dialled _, _ -> "a dial that finished after the removal was not refused"
          | _, [] -> ()
          | _, _ -> sprintf "after the removal %A gave %A" event actions
      for action in actions do
          match action with
          | CloseConnection(connection, _) ->
              match event with
              | Silent(silent, _) when silent = connection && before.Current = Some connection -> ()
              | Remove _ when before.Current = Some connection -> ()
              | _ -> sprintf "connection %d closed on %A" connection event
          | RedialAfter(broken, delayMs) ->
              match before.Window with
              | Some w when w.Broken = broken ->
                  if delayMs < 1L || delayMs > PeerLiveness.redialIntervalMs then sprintf "a wait of %d ms" delayMs
                  if world.NowMs + delayMs > w.DeadlineMs then "a wait that ends after the deadline"
              | _ -> sprintf "a wait for window %d, which is not open" broken
          | Redial broken ->
              let opened = match event with ConnectionClosed(connection, _, _) -> before.Current = Some connection && connection = broken | _ -> false
              let due = match event, before.Window with RedialDue b, Some w -> b = broken && w.Broken = broken | _ -> false
              if not (opened || due) then sprintf "a redial for window %d on %A" broken event
          | LogReconnecting _ ->
              match event with
              | ConnectionClosed(connection, _, _) when before.Current = Some connection -> ()
              | _ -> sprintf "'re-dialling' logged on %A" event
          | LogReestablished -> if before.Window.IsNone then sprintf "'re-established' logged on %A outside a window" event
          | RefuseConnection _ -> if not before.Removed then "a dial refused before the removal"
          | RaiseLost _ -> () // the model says when, and why
      match event with
      | Remove _ when before.Current.IsSome && not before.Removed && actions.IsEmpty -> "the removal did not close the open connection"
      | Dialled _ when before.Window.IsSome && not before.Removed && not (List.contains LogReestablished actions) -> "a reconnect was not logged"
      | _ -> () ]

/// Feeds one event and performs its actions as PeerLink does; a close reports the connection's end back.
let rec private feed (event: LivenessEvent<int>) (world: World) : World =
    let liveness, actions = PeerLiveness.step world.Liveness event
    let model, lost = judge world.Model world.Liveness.ReconnectWindowMs event
    let checkedWorld =
        [ if liveness.Phase <> expectedPhase model then sprintf "phase %A, the model says %A" liveness.Phase (expectedPhase model)
          yield! lossProblems world.Model actions lost
          yield! problems world.Model event world actions ]
        |> List.fold (fun w problem -> violation (sprintf "%A: %s" event problem) w) { world with Liveness = liveness; Model = model }
    actions |> List.fold perform checkedWorld

and private perform (world: World) (action: LivenessAction<int>) : World =
    match action with
    | Redial broken -> { world with Redials = world.Redials @ [ broken ] }
    | RedialAfter(broken, delayMs) -> { world with Waits = world.Waits @ [ broken, world.NowMs + delayMs ] }
    | CloseConnection(connection, reason) ->
        if List.contains connection world.Open then
            feed (ConnectionClosed(connection, reason, world.NowMs)) { world with Open = List.except [ connection ] world.Open }
        else world
    | RefuseConnection _ -> world
    | RaiseLost reason -> { world with Losses = reason :: world.Losses }
    | LogReconnecting _ | LogReestablished -> world

let private dial (world: World) =
    let connection = world.NextConnection
    let world = feed (Dialled connection) { world with NextConnection = connection + 1 }
    match world.Liveness.Phase with
    | Removed -> world
    | _ -> { world with Open = world.Open @ [ connection ] }

let private closeReported connection reason (world: World) =
    feed (ConnectionClosed(connection, reason, world.NowMs)) { world with Open = List.except [ connection ] world.Open }

let private run (world: World) (command: Command) : World =
    let newestOpen = List.tryLast world.Open
    match command with
    | RequestDial ->
        match newestOpen with
        | None -> dial world
        | Some _ -> world
    | DialRacingClose ->
        match newestOpen with
        | Some old -> dial world |> closeReported old "the peer closed the connection"
        | None -> world
    | CompleteRedial succeeds ->
        match world.Redials with
        | [] -> world
        | broken :: rest ->
            let world = { world with Redials = rest }
            match succeeds, newestOpen, PeerLiveness.dialRefusal world.Liveness with
            | _, _, Some refusal -> feed (RedialFailed(broken, refusal, world.NowMs)) world
            | true, Some _, None -> world
            | true, None, None -> dial world
            | false, _, None -> feed (RedialFailed(broken, "cannot connect: Connection refused", world.NowMs)) world
    | EndWait ->
        match world.Waits |> List.sortBy snd with
        | [] -> world
        | (broken, endsMs) :: _ ->
            let world = { world with Waits = List.except [ broken, endsMs ] world.Waits; NowMs = max world.NowMs endsMs }
            feed (RedialDue broken) world
    | Pass ms -> { world with NowMs = world.NowMs + int64 ms }
    | PeerCloses ->
        match newestOpen with
        | Some connection -> closeReported connection "the peer closed the connection" world
        | None -> world
    | GoesSilent ->
        match newestOpen with
        | Some connection -> feed (Silent(connection, "no answer to Ping for 4 s")) world
        | None -> world
    | LateNews silent ->
        match [ 0 .. world.NextConnection - 1 ] |> List.filter (fun c -> not (List.contains c world.Open)) |> List.tryLast with
        | Some connection when silent -> feed (Silent(connection, "no answer to Ping for 4 s")) world
        | Some connection -> feed (ConnectionClosed(connection, "closed", world.NowMs)) world
        | None -> world
    | RemovePeer -> feed (Remove "node 2 was removed from this transport") world

/// After every command: an open window has exactly one redial or wait under way (never none, which would leave
/// it open for ever; never two, which would re-dial twice as often).
let private chainProblems (world: World) =
    match world.Model.Window with
    | Some w ->
        let underWay = (world.Redials |> List.filter ((=) w.Broken) |> List.length) + (world.Waits |> List.filter (fst >> (=) w.Broken) |> List.length)
        if underWay <> 1 then [ sprintf "window %d has %d redials and waits under way" w.Broken underWay ] else []
    | None -> []

/// Every redial fails and every wait ends, as for a peer gone for good, until nothing is under way (or
/// something went wrong: what follows would repeat it).
let rec private drain (steps: int) (world: World) =
    if not (List.isEmpty world.Violations) then world
    elif steps > 100_000 then violation "the redials never end" world
    elif not (List.isEmpty world.Redials) then drain (steps + 1) (run world (CompleteRedial false))
    elif not (List.isEmpty world.Waits) then drain (steps + 1) (run world EndWait)
    else world

let private start windowMs =
    { Liveness = PeerLiveness.create windowMs
      NowMs = 1_000L
      NextConnection = 0
      Open = []
      Redials = []
      Waits = []
      Losses = []
      Model = { Current = None; Window = None; LostReported = false; Removed = false }
      Violations = [] }

let private simulate (windowMs: int64, commands: Command list) =
    let world =
        commands
        |> List.fold (fun world command ->
            let world = run world command
            chainProblems world |> List.fold (fun w p -> violation (sprintf "after %A: %s" command p) w) world) (start windowMs)
        |> drain 0
    if world.Model.Window.IsSome then violation "a reconnect window outlived its redials" world else world

let private commands =
    Gen.frequency
        [ 3, Gen.constant RequestDial
          1, Gen.constant DialRacingClose
          4, Gen.map CompleteRedial (Gen.frequency [ 4, Gen.constant false; 1, Gen.constant true ])
          4, Gen.constant EndWait
          3, Gen.map Pass (Gen.frequency [ 3, Gen.choose (0, 250); 1, Gen.choose (250, 2_000) ])
          3, Gen.constant PeerCloses
          1, Gen.constant GoesSilent
          1, Gen.map LateNews (Gen.elements [ false; true ])
          1, Gen.constant RemovePeer ]
    |> Gen.listOf

/// Windows shorter than, equal to and longer than the redial interval, and none at all.
let private scenarios =
    Gen.zip (Gen.frequency [ 1, Gen.constant 0L; 1, Gen.elements [ 150L; 200L ]; 4, Gen.map int64 (Gen.choose (1, 1_500)) ]) commands

let private noProblems scenario =
    match (simulate scenario).Violations with
    | [] -> true
    | found -> failwithf "%s" (String.concat "\n" (List.rev found))

let private stepAll liveness events =
    events |> List.fold (fun (l, _) e -> PeerLiveness.step l e) (liveness, [])

let tests =
    testList "peer liveness" [
        testPropertyWithConfig config "dials, connection ends, silences, waits and removals in any order agree with the model" <|
            Prop.forAll (Arb.fromGen scenarios) noProblems

        test "generated scenarios reach losses by the window and by silence, reconnects, and refusals after removal" {
            // Guards the generator: the property means little if these situations never occur.
            let situations =
                Gen.sampleWithSize 60 300 scenarios
                |> Array.toList
                |> List.collect (fun (windowMs, commands) ->
                    commands
                    |> List.scan (fun (world, _) command ->
                        let after = run world command
                        let seen =
                            [ if after.Losses.Length > world.Losses.Length then
                                  if after.Losses.Head.StartsWith "the connection was lost" then "lost by the window" else "lost by silence"
                              match world.Liveness.Phase, after.Liveness.Phase with
                              | Reconnecting _, Connected _ -> "re-established"
                              | _ -> ()
                              match world.Liveness.Phase, command with
                              | Removed, RequestDial -> "refused after removal"
                              | _ -> () ]
                        after, seen) (start windowMs, [])
                    |> List.collect snd)
                |> set
            Expect.equal situations (set [ "lost by the window"; "lost by silence"; "re-established"; "refused after removal" ]) "every situation occurs"
        }

        test "a connection lost at 1000 ms with a 500 ms window is re-dialled at once, then every 200 ms, and its peer is lost on the first failure at 1500 ms" {
            let connected, _ = PeerLiveness.step (PeerLiveness.create 500L) (Dialled 1)
            let reconnecting, actions = PeerLiveness.step connected (ConnectionClosed(1, "the peer closed the connection", 1_000L))
            Expect.equal reconnecting.Phase (Reconnecting { Broken = 1; Reason = "the peer closed the connection"; DeadlineMs = 1_500L }) "window open"
            Expect.equal actions [ LogReconnecting "the peer closed the connection"; Redial 1 ] "re-dialled at once"
            let refused = "cannot connect: Connection refused"
            Expect.equal (snd (PeerLiveness.step reconnecting (RedialFailed(1, refused, 1_010L)))) [ RedialAfter(1, 200L) ] "again in 200 ms"
            Expect.equal (snd (PeerLiveness.step reconnecting (RedialDue 1))) [ Redial 1 ] "then dialled"
            Expect.equal (snd (PeerLiveness.step reconnecting (RedialFailed(1, refused, 1_420L)))) [ RedialAfter(1, 80L) ] "the last wait ends at the deadline"
            let lost, actions = PeerLiveness.step reconnecting (RedialFailed(1, refused, 1_500L))
            Expect.equal lost.Phase Lost "lost"
            Expect.equal actions
                [ RaiseLost "the connection was lost (the peer closed the connection) and could not be re-established within 0.5 s; last attempt: cannot connect: Connection refused" ]
                "reported once, with the last error"
            Expect.equal (stepAll lost [ RedialFailed(1, refused, 2_000L); RedialDue 1; ConnectionClosed(1, "closed", 2_000L) ]) (lost, []) "nothing after"
        }

        test "a dial that succeeds within the window reconnects; the next loss opens a full window again" {
            let reconnecting, _ = stepAll (PeerLiveness.create 500L) [ Dialled 1; ConnectionClosed(1, "reset", 1_000L) ]
            let connected, actions = PeerLiveness.step reconnecting (Dialled 2)
            Expect.equal (connected.Phase, actions) (Connected 2, [ LogReestablished ]) "re-established"
            Expect.equal (PeerLiveness.step connected (RedialDue 1)) (connected, []) "the old window's wait is no news"
            let again, _ = PeerLiveness.step connected (ConnectionClosed(2, "reset", 1_400L))
            Expect.equal again.Phase (Reconnecting { Broken = 2; Reason = "reset"; DeadlineMs = 1_900L }) "deadline from the new loss"
            Expect.equal (snd (PeerLiveness.step again (RedialFailed(1, "late", 2_000L)))) [] "the old window's failure is no news"
        }

        test "a silent peer is closed and lost at once, without re-dialling; a later dial re-arms the loss" {
            let connected, _ = PeerLiveness.step (PeerLiveness.create 5_000L) (Dialled 1)
            let lost, actions = PeerLiveness.step connected (Silent(1, "no answer to Ping for 4 s"))
            Expect.equal (lost.Phase, actions) (Lost, [ CloseConnection(1, "no answer to Ping for 4 s"); RaiseLost "no answer to Ping for 4 s" ]) "closed, then lost"
            Expect.equal (PeerLiveness.step lost (ConnectionClosed(1, "no answer to Ping for 4 s", 9_000L))) (lost, []) "its end does not re-dial"
            let rearmed, _ = stepAll lost [ Dialled 2; Silent(2, "no answer to Ping for 4 s") ]
            Expect.equal rearmed.Phase Lost "lost again after a new connection"
        }

        test "a removed peer: its connection closed, no reconnect, no loss, dials refused" {
            let connected, _ = PeerLiveness.step (PeerLiveness.create 500L) (Dialled 1)
            let removed, actions = PeerLiveness.step connected (Remove "node 2 was removed from this transport")
            Expect.equal (removed.Phase, actions) (Removed, [ CloseConnection(1, "node 2 was removed from this transport") ]) "closed"
            Expect.equal (stepAll removed [ ConnectionClosed(1, "node 2 was removed from this transport", 1_000L); Silent(1, "silent") ]) (removed, []) "no reconnect, no loss"
            Expect.equal (snd (PeerLiveness.step removed (Dialled 2))) [ RefuseConnection(2, "the peer was removed from this transport") ] "a dial that ends after is refused"
            Expect.equal (PeerLiveness.dialRefusal removed) (Some "the peer was removed from this transport") "no dial starts"
            Expect.equal (PeerLiveness.dialRefusal connected) None "before the removal, dials start"
        }
    ]
