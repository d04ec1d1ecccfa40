/// Whether a peer this node sends requests to is reachable, as a pure state machine (docs/transport.md, "Loss
/// and reconnect"): `step : PeerLiveness -> LivenessEvent -> PeerLiveness * LivenessAction list`.
///
/// The TCP transport's per-peer link feeds it the ends of dials and connections, the keep-alive's verdict and
/// the peer's removal, with the time of its monotonic clock where a deadline depends on it, and performs the
/// returned actions in order: it dials, waits, closes and raises PeerLost only when told to.
///
/// `'connection` is whatever the shell tells its connections apart by; it is only compared for equality, so
/// news about a connection that is no longer the current one, or about a reconnect window already closed,
/// changes nothing.
namespace SsiHv.Core.Transport

open System.Globalization

/// The re-dialling after the current connection ended without our doing.
type Reconnect<'connection> =
    { /// The connection whose end opened the window. It names the window: a redial scheduled for an earlier
      /// window reports that window, and is ignored.
      Broken: 'connection
      /// Why it ended, for the PeerLost reason.
      Reason: string
      /// On the shell's clock, in milliseconds: a redial that fails at or after it has the peer reported lost.
      DeadlineMs: int64 }

type LivenessPhase<'connection> =
    /// Never dialled: the first request (or ConnectAsync) dials.
    | Unconnected
    | Connected of connection: 'connection
    | Reconnecting of Reconnect<'connection>
    /// Reported lost, once. Nothing re-dials by itself; a request's dial that succeeds makes it Connected again,
    /// and so able to be lost again.
    | Lost
    /// Taken out of the transport (RemovePeer, a new address, the transport stopping): no dial is kept, nothing
    /// re-dials, nothing is reported lost.
    | Removed

type PeerLiveness<'connection> =
    { /// How long a broken connection is re-dialled before the peer is reported lost (TransportOptions).
      ReconnectWindowMs: int64
      Phase: LivenessPhase<'connection> }

type LivenessEvent<'connection> =
    /// A dial (a redial, a request's, ConnectAsync) connected and authenticated the peer.
    | Dialled of connection: 'connection
    /// The connection ended: the peer closed or reset it, it carried a malformed frame, a send failed, or a
    /// CloseConnection was performed.
    | ConnectionClosed of connection: 'connection * reason: string * nowMs: int64
    /// The Redial for the window `broken` names failed with `error`.
    | RedialFailed of broken: 'connection * error: string * nowMs: int64
    /// The wait of a RedialAfter for the window `broken` names is over.
    | RedialDue of broken: 'connection
    /// The keep-alive's verdict: the connection is open but the peer did not answer Ping in time.
    | Silent of connection: 'connection * reason: string
    | Remove of reason: string

type LivenessAction<'connection> =
    /// Log that the connection ended for `reason` and is re-dialled for the reconnect window.
    | LogReconnecting of reason: string
    /// Log that a dial succeeded within the reconnect window.
    | LogReestablished
    /// Dial now (the dial requests share); report a failure as RedialFailed for `broken`. A success reports
    /// itself as Dialled.
    | Redial of broken: 'connection
    /// Wait `delayMs`, then report RedialDue for `broken`.
    | RedialAfter of broken: 'connection * delayMs: int64
    /// Close it with `reason`, which its pending requests fail with; its end comes back as ConnectionClosed.
    | CloseConnection of connection: 'connection * reason: string
    /// A dial finished after the peer was removed: discard the connection and fail the dial with `reason`.
    | RefuseConnection of connection: 'connection * reason: string
    /// Raise PeerLost for this peer.
    | RaiseLost of reason: string

module PeerLiveness =
    /// Re-dials within a window come this often, so a peer back on its port is found within a fraction of a
    /// second while a dead one costs a connect attempt five times a second.
    let redialIntervalMs = 200L

    let private removedReason = "the peer was removed from this transport"

    let create (reconnectWindowMs: int64) : PeerLiveness<'connection> = { ReconnectWindowMs = reconnectWindowMs; Phase = Unconnected }

    /// Why no dial may start now, if none may: requests and redials do not dial a removed peer.
    let dialRefusal (liveness: PeerLiveness<'connection>) =
        match liveness.Phase with
        | Removed -> Some removedReason
        | Unconnected | Connected _ | Reconnecting _ | Lost -> None

    let private seconds (ms: int64) = (float ms / 1000.0).ToString("0.###", CultureInfo.InvariantCulture)

    let step (liveness: PeerLiveness<'connection>) (event: LivenessEvent<'connection>) : PeerLiveness<'connection> * LivenessAction<'connection> list =
        let enter phase actions = { liveness with Phase = phase }, actions
        match liveness.Phase, event with
        | Removed, Dialled connection -> liveness, [ RefuseConnection(connection, removedReason) ]
        | Removed, _ -> liveness, []
        | Connected current, Remove reason -> enter Removed [ CloseConnection(current, reason) ]
        | _, Remove _ -> enter Removed []
        | Reconnecting _, Dialled connection -> enter (Connected connection) [ LogReestablished ]
        // A dial may finish while the current connection is closing (its socket closed, its end not reported
        // yet): the new one replaces it, and the old one's end is then no news.
        | _, Dialled connection -> enter (Connected connection) []
        | Connected current, ConnectionClosed(connection, reason, nowMs) when connection = current ->
            enter
                (Reconnecting { Broken = current; Reason = reason; DeadlineMs = nowMs + liveness.ReconnectWindowMs })
                [ LogReconnecting reason; Redial current ]
        // The keep-alive reports the loss at once: a peer that stopped answering is not waited for again.
        | Connected current, Silent(connection, reason) when connection = current ->
            enter Lost [ CloseConnection(current, reason); RaiseLost reason ]
        | Reconnecting window, RedialDue broken when broken = window.Broken -> liveness, [ Redial broken ]
        | Reconnecting window, RedialFailed(broken, error, nowMs) when broken = window.Broken ->
            let remainingMs = window.DeadlineMs - nowMs
            if remainingMs <= 0L then
                enter Lost
                    [ RaiseLost(
                          "the connection was lost (" + window.Reason + ") and could not be re-established within "
                          + seconds liveness.ReconnectWindowMs + " s; last attempt: " + error
                      ) ]
            else
                liveness, [ RedialAfter(broken, min remainingMs redialIntervalMs) ]
        | _, (ConnectionClosed _ | Silent _ | RedialDue _ | RedialFailed _) -> liveness, []
