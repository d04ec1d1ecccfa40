/// Which incoming transport connections a node host keeps, as a pure state machine (docs/transport.md,
/// "Admission"): `step : Admission -> AdmissionEvent -> Admission * AdmissionAction list`.
///
/// A connection is unauthenticated from its accept until the hello accepts the peer. Unauthenticated
/// connections get a small share of the places, and at most a few of them per source address; an arrival
/// beyond a share does not wait or get refused: the OLDEST unauthenticated connection of that share is
/// evicted to make room. A real peer finishes its hello within a round trip or two, so the oldest
/// unauthenticated connection is the one most likely to be a client that will never authenticate, and a
/// flooding client churns its own connections instead of filling the places peers need (the same source's
/// share evicts the same source's connections first). Authenticated connections are never evicted; an
/// arrival is refused only when every place is held by an authenticated peer.
///
/// The shell numbers its connections (any distinct numbers) and names each one's source by its IP address.
namespace SsiHv.Core.Transport

type AdmissionLimits =
    { /// Incoming connections at once, authenticated or not.
      Connections: int
      /// Of them, connections that have not finished the hello.
      Unauthenticated: int
      /// Of those, from one source address.
      UnauthenticatedPerSource: int }

/// Why an incoming connection was closed before it could serve a peer: an eviction or refusal by the
/// admission, a failed hello, or a failed accept. The transport counts and logs each kind separately (so a
/// flood of one kind never hides the first line of another, e.g. a peer with the wrong secret).
type IncomingRefusal =
    /// Evicted: the newest connection's source held its share of unauthenticated connections.
    | SourceShare
    /// Evicted: unauthenticated connections held their share of the places.
    | UnauthenticatedShare
    /// Evicted: every place was taken, some by unauthenticated connections.
    | ConnectionLimit
    /// Refused: every place is held by an authenticated peer.
    | PeersFull
    /// The hello did not finish within the connect timeout.
    | HelloTimedOut
    /// The client closed the connection during the hello.
    | HelloAbandoned
    /// The hello's bytes were not frames.
    | HelloMalformed
    /// The hello refused the client (the wrong secret, the wrong message), or the client refused ours.
    | HelloRejected
    /// accept() failed (the process or system ran out of descriptors or buffers, or the connection was
    /// aborted before it was accepted).
    | AcceptFailed

module IncomingRefusal =
    let all =
        [ SourceShare; UnauthenticatedShare; ConnectionLimit; PeersFull; HelloTimedOut; HelloAbandoned; HelloMalformed; HelloRejected; AcceptFailed ]

    /// The Prometheus label value.
    let label (refusal: IncomingRefusal) =
        match refusal with
        | SourceShare -> "source_share"
        | UnauthenticatedShare -> "unauthenticated_share"
        | ConnectionLimit -> "connection_limit"
        | PeersFull -> "peers_full"
        | HelloTimedOut -> "hello_timed_out"
        | HelloAbandoned -> "hello_abandoned"
        | HelloMalformed -> "hello_malformed"
        | HelloRejected -> "hello_rejected"
        | AcceptFailed -> "accept_failed"

    /// What the transport did and why, for log lines.
    let describe (limits: AdmissionLimits) (refusal: IncomingRefusal) =
        match refusal with
        | SourceShare ->
            "closed the oldest unauthenticated connection of a source holding its share (" + string limits.UnauthenticatedPerSource + ") of unauthenticated connections"
        | UnauthenticatedShare ->
            "closed the oldest unauthenticated connection: unauthenticated connections held their share (" + string limits.Unauthenticated + ")"
        | ConnectionLimit ->
            "closed the oldest unauthenticated connection: all " + string limits.Connections + " incoming connections were open"
        | PeersFull -> "refused a connection: all " + string limits.Connections + " incoming connections are authenticated peers"
        | HelloTimedOut -> "closed a connection whose hello did not finish in time"
        | HelloAbandoned -> "a client closed its connection during the hello"
        | HelloMalformed -> "closed a connection whose hello was not frames"
        | HelloRejected -> "closed a connection whose hello was refused"
        | AcceptFailed -> "accepting a connection failed"

type PendingConnection = { Connection: int64; Source: string }

type Admission =
    { Limits: AdmissionLimits
      /// Unauthenticated connections, oldest first.
      Pending: PendingConnection list
      Authenticated: Set<int64> }

type AdmissionEvent =
    /// accept() returned a new connection from `source`.
    | Arrived of connection: int64 * source: string
    /// The hello of this connection accepted the peer.
    | HelloAccepted of connection: int64
    /// The connection ended (either side closed it, its hello failed, the transport stops).
    | Ended of connection: int64

type AdmissionAction =
    /// Serve the new connection: start its hello.
    | Admit of connection: int64
    /// Close this unauthenticated connection (older than the one that arrived) for `reason`.
    | Evict of connection: int64 * source: string * reason: IncomingRefusal
    /// Close the new connection: there is no room for it (reason PeersFull).
    | Refuse of connection: int64 * source: string * reason: IncomingRefusal
    /// The authenticated connection may serve the peer's requests. Without it (the connection was evicted
    /// while its hello finished) the connection is closed already and must not be served.
    | Serve of connection: int64

module Admission =
    /// Each limit at least 1, a share no larger than what it is a share of.
    let create (limits: AdmissionLimits) : Result<Admission, string> =
        if limits.UnauthenticatedPerSource < 1 then
            Error("UnauthenticatedPerSource: expected 1 or more, found " + string limits.UnauthenticatedPerSource)
        elif limits.Unauthenticated < limits.UnauthenticatedPerSource then
            Error("Unauthenticated: expected at least UnauthenticatedPerSource (" + string limits.UnauthenticatedPerSource + "), found " + string limits.Unauthenticated)
        elif limits.Connections < limits.Unauthenticated then
            Error("Connections: expected at least Unauthenticated (" + string limits.Unauthenticated + "), found " + string limits.Connections)
        else Ok { Limits = limits; Pending = []; Authenticated = Set.empty }

    let private knows (admission: Admission) connection =
        admission.Authenticated.Contains connection || admission.Pending |> List.exists (fun p -> p.Connection = connection)

    /// Which unauthenticated connection must go for one from `source` to enter, and why; Error when none can.
    let private victim (admission: Admission) (source: string) : Result<(PendingConnection * IncomingRefusal) option, unit> =
        let limits = admission.Limits
        let pending = admission.Pending
        let ofSource = pending |> List.filter (fun p -> p.Source = source)
        if ofSource.Length >= limits.UnauthenticatedPerSource then Ok(Some(List.head ofSource, SourceShare))
        elif pending.Length >= limits.Unauthenticated then Ok(Some(List.head pending, UnauthenticatedShare))
        elif pending.Length + admission.Authenticated.Count < limits.Connections then Ok None
        else
            match pending with
            | oldest :: _ -> Ok(Some(oldest, ConnectionLimit))
            | [] -> Error()

    let step (admission: Admission) (event: AdmissionEvent) : Admission * AdmissionAction list =
        match event with
        | Arrived(connection, _) when knows admission connection -> admission, []
        | Arrived(connection, source) ->
            let arrived = { Connection = connection; Source = source }
            match victim admission source with
            | Error() -> admission, [ Refuse(connection, source, PeersFull) ]
            | Ok None -> { admission with Pending = admission.Pending @ [ arrived ] }, [ Admit connection ]
            | Ok(Some(evicted, reason)) ->
                let kept = admission.Pending |> List.filter (fun p -> p.Connection <> evicted.Connection)
                { admission with Pending = kept @ [ arrived ] },
                [ Evict(evicted.Connection, evicted.Source, reason); Admit connection ]
        | HelloAccepted connection ->
            if admission.Pending |> List.exists (fun p -> p.Connection = connection) then
                { admission with
                    Pending = admission.Pending |> List.filter (fun p -> p.Connection <> connection)
                    Authenticated = admission.Authenticated.Add connection },
                [ Serve connection ]
            else admission, []
        | Ended connection ->
            { admission with
                Pending = admission.Pending |> List.filter (fun p -> p.Connection <> connection)
                Authenticated = admission.Authenticated.Remove connection },
            []
