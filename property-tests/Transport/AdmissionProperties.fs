/// Model-based tests of the admission of incoming connections. A generated command list drives the real
/// `Admission.step` through a simulated accept loop that performs its actions as TcpNodeTransport does: an
/// evicted or refused connection is closed and reports its end later (so a hello may still finish on a
/// connection already evicted), an authenticated one serves until its end is reported. The model is the list
/// of open connections in arrival order, each with its source and whether the admission authenticated it.
///
/// Checked at every event: an arrival is refused exactly when every place is held by an authenticated peer,
/// and otherwise admitted, evicting at most one connection, never an authenticated one, and only the oldest
/// unauthenticated connection of the share that is full (its source's first, then all unauthenticated ones,
/// then all places); the shares and the total are never exceeded; a finished hello is served exactly when its
/// connection was still admitted.
module SsiHv.PropertyTests.Transport.AdmissionProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport

let private config = { FsCheckConfig.defaultConfig with maxTest = 300; endSize = 200 }

type Command =
    /// A connection from source `source` is accepted.
    | Arrive of source: int
    /// The hello of the `index`-th (mod count) admitted connection, or of one closing, finishes.
    | FinishHello of index: int
    /// The `index`-th (mod count) open or closing connection ends.
    | End of index: int

type Connection = { Id: int64; Source: string; Authenticated: bool }

type World =
    { Admission: Admission
      NextId: int64
      /// Admitted and not ended, oldest first: the model.
      Open: Connection list
      /// Evicted or refused by the admission, their end not yet reported.
      Closing: int64 list }

let private sources = [| "10.0.0.1"; "10.0.0.2"; "10.0.0.3"; "192.168.1.7" |]

/// Small limits, so generated runs reach every share; the first source floods.
let private limits =
    Gen.elements
        [ { Connections = 8; Unauthenticated = 4; UnauthenticatedPerSource = 2 }
          { Connections = 5; Unauthenticated = 5; UnauthenticatedPerSource = 3 }
          { Connections = 3; Unauthenticated = 1; UnauthenticatedPerSource = 1 } ]

let private command =
    Gen.frequency
        [ 6, Gen.frequency [ 3, Gen.constant 0; 1, Gen.choose (1, sources.Length - 1) ] |> Gen.map Arrive
          3, Gen.choose (0, 50) |> Gen.map FinishHello
          2, Gen.choose (0, 50) |> Gen.map End ]

let private pendingOf world = world.Open |> List.filter (fun c -> not c.Authenticated)

/// The oldest unauthenticated connection the model says must go for an arrival from `source`, and why.
let private expectedEviction (limits: AdmissionLimits) world source =
    let pending = pendingOf world
    let ofSource = pending |> List.filter (fun c -> c.Source = source)
    let oldest (connections: Connection list) = connections |> List.minBy (fun c -> c.Id)
    if ofSource.Length >= limits.UnauthenticatedPerSource then Some(oldest ofSource, SourceShare)
    elif pending.Length >= limits.Unauthenticated then Some(oldest pending, UnauthenticatedShare)
    elif world.Open.Length >= limits.Connections then Some(oldest pending, ConnectionLimit)
    else None

let private invariants (limits: AdmissionLimits) world =
    let pending = pendingOf world
    pending.Length <= limits.Unauthenticated
    && world.Open.Length <= limits.Connections
    && sources |> Array.forall (fun s -> (pending |> List.filter (fun c -> c.Source = s)).Length <= limits.UnauthenticatedPerSource)
    && world.Admission.Pending |> List.map (fun p -> p.Connection) = (pending |> List.map (fun c -> c.Id))
    && world.Admission.Authenticated = (world.Open |> List.filter (fun c -> c.Authenticated) |> List.map (fun c -> c.Id) |> Set.ofList)

let private run (limits: AdmissionLimits) (commands: Command list) =
    let start =
        { Admission = (Admission.create limits |> Result.defaultWith failwith); NextId = 1L; Open = []; Closing = [] }
    let apply (world, failures) command =
        match command with
        | Arrive index ->
            let source = sources.[index]
            let id = world.NextId
            let admission, actions = Admission.step world.Admission (Arrived(id, source))
            let world = { world with Admission = admission; NextId = id + 1L }
            let authenticatedCount = world.Open |> List.filter (fun c -> c.Authenticated) |> List.length
            if authenticatedCount >= limits.Connections then
                let ok = actions = [ Refuse(id, source, PeersFull) ]
                { world with Closing = id :: world.Closing }, (if ok then failures else sprintf "arrival %d: expected a refusal, got %A" id actions :: failures)
            else
                let expected =
                    match expectedEviction limits world source with
                    | Some(victim, reason) -> [ Evict(victim.Id, victim.Source, reason); Admit id ]
                    | None -> [ Admit id ]
                let evicted = actions |> List.choose (function Evict(c, _, _) -> Some c | _ -> None)
                let world =
                    { world with
                        Open = (world.Open |> List.filter (fun c -> not (List.contains c.Id evicted))) @ [ { Id = id; Source = source; Authenticated = false } ]
                        Closing = evicted @ world.Closing }
                world, (if actions = expected then failures else sprintf "arrival %d from %s: expected %A, got %A" id source expected actions :: failures)
        | FinishHello index ->
            let candidates = (pendingOf world |> List.map (fun c -> c.Id)) @ world.Closing
            if candidates.IsEmpty then world, failures
            else
                let id = candidates.[index % candidates.Length]
                let admission, actions = Admission.step world.Admission (HelloAccepted id)
                let stillAdmitted = pendingOf world |> List.exists (fun c -> c.Id = id)
                let expected = if stillAdmitted then [ Serve id ] else []
                let world =
                    { world with
                        Admission = admission
                        Open = world.Open |> List.map (fun c -> if c.Id = id then { c with Authenticated = true } else c) }
                world, (if actions = expected then failures else sprintf "hello of %d: expected %A, got %A" id expected actions :: failures)
        | End index ->
            let candidates = (world.Open |> List.map (fun c -> c.Id)) @ world.Closing
            if candidates.IsEmpty then world, failures
            else
                let id = candidates.[index % candidates.Length]
                let admission, actions = Admission.step world.Admission (Ended id)
                let world =
                    { world with
                        Admission = admission
                        Open = world.Open |> List.filter (fun c -> c.Id <> id)
                        Closing = world.Closing |> List.filter ((<>) id) }
                world, (if actions.IsEmpty then failures else sprintf "end of %d: expected no action, got %A" id actions :: failures)
    commands
    |> List.fold (fun (world, failures) command ->
        let world, failures = apply (world, failures) command
        world, (if invariants limits world then failures else sprintf "after %A the shares or the model differ: %A" command world :: failures))
        (start, [])
    |> snd
    |> List.rev

let tests =
    testList "admission" [
        testPropertyWithConfig config "arrivals evict only the oldest unauthenticated connection of a full share, never a peer, and are refused only when peers hold every place" <|
            Prop.forAll (Arb.fromGen (Gen.zip limits (Gen.listOf command))) (fun (limits, commands) ->
                let failures = run limits commands
                failures.IsEmpty |> Prop.label (String.concat "\n" failures))

        testPropertyWithConfig config "a peer whose hello finishes before its source's share of later arrivals is served, however many arrive from one other source" <|
            Prop.forAll (Arb.fromGen (Gen.choose (0, 200))) (fun flood ->
                let limits = { Connections = 16; Unauthenticated = 8; UnauthenticatedPerSource = 2 }
                let admission = Admission.create limits |> Result.defaultWith failwith
                let arrive (admission, actions) (id, source) =
                    let admission, more = Admission.step admission (Arrived(id, source))
                    admission, actions @ more
                let floodFrom first count = List.init count (fun i -> int64 (first + i), "10.0.0.66")
                // The flooder fills its share before and keeps connecting while the peer says hello.
                let admission, before = List.fold arrive (admission, []) (floodFrom 1000 flood)
                let admission, arrived = arrive (admission, []) (1L, "10.0.0.1")
                let admission, during = List.fold arrive (admission, []) (floodFrom 5000 flood)
                let _, served = Admission.step admission (HelloAccepted 1L)
                served = [ Serve 1L ]
                && List.contains (Admit 1L) arrived
                && (before @ during) |> List.forall (function Refuse _ -> false | _ -> true))

        test "limits whose share exceeds what it is a share of are refused, naming the field" {
            Expect.equal (Admission.create { Connections = 4; Unauthenticated = 8; UnauthenticatedPerSource = 2 } |> Result.map ignore)
                (Error "Connections: expected at least Unauthenticated (8), found 4") "total below the share"
            Expect.equal (Admission.create { Connections = 4; Unauthenticated = 2; UnauthenticatedPerSource = 0 } |> Result.map ignore)
                (Error "UnauthenticatedPerSource: expected 1 or more, found 0") "no share per source"
        }
    ]
