/// What a memory node does about what its boot node says of it after it joined (docs/operations.md, "Node
/// loss"): a node the boot node took for lost (it was stopped or cut off past the keep-alive) or no longer lists
/// (the boot node restarted, or pruned it) joins again, with a bounded back-off; a node an operator took out
/// (left) stays out. The shell asks GET /v1/cluster, waits and joins; the decisions are here.
module SsiHv.Core.Cluster.Rejoin

open System
open SsiHv.Core.Cluster.Membership
open SsiHv.Core.Topology

/// What the boot node's GET /v1/cluster said of this node.
type Seen =
    | Listed of MemberState
    /// It answered and does not list this node.
    | NotListed
    /// No usable answer (connection refused, time-out, an error status); the reason as the client saw it.
    | NoAnswer of reason: string

type Verdict =
    /// Still in (joining, active or draining): check again later.
    | StillMember
    /// The join is no longer valid: join again, after the back-off's delay.
    | JoinAgain of reason: string
    /// Taken out on purpose: do not join again on one's own.
    | StayOut of reason: string
    /// The boot node did not answer: ask again, after the back-off's delay.
    | BootUnreachable of reason: string

let judge (self: NodeId) (bootUrl: string) (seen: Seen) : Verdict =
    match seen with
    | Listed(Joining | Active | Draining) -> StillMember
    | Listed Lost ->
        JoinAgain("the boot node at " + bootUrl + " has node " + string self.Value + " as lost (it missed the keep-alive, e.g. while stopped or cut off); joining again")
    | Listed Left ->
        StayOut("the boot node at " + bootUrl + " has node " + string self.Value + " as left (taken out through leave or drain); not joining again: restart this node host to join")
    | NotListed ->
        JoinAgain("the boot node at " + bootUrl + " does not list node " + string self.Value + " (it restarted, or pruned this node); joining again")
    | NoAnswer reason -> BootUnreachable("the boot node at " + bootUrl + " did not answer: " + reason)

let firstDelay = TimeSpan.FromSeconds 1.0
let maximumDelay = TimeSpan.FromSeconds 30.0

/// The wait before retry `attempt` (1, 2, …) of a failed join or check: 1 s, doubling, at most 30 s, so a node
/// that lost its boot node neither hammers it nor waits long once it is back.
let delay (attempt: int) : TimeSpan =
    // 2^5 s already passes the maximum: larger exponents would only overflow.
    let doublings = min (max (attempt - 1) 0) 5
    let wanted = firstDelay * float (1 <<< doublings)
    if wanted > maximumDelay then maximumDelay else wanted
