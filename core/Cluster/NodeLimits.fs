/// How many connections and open files a node host allows itself. Each accepted connection holds a descriptor;
/// past the process's open-files limit the runtime cannot accept, open or start anything (a flood of idle
/// connections once aborted a node host), so the listeners stop well before it.
module SsiHv.Core.Cluster.NodeLimits

/// Concurrent HTTP connections to the control API; more are closed at once.
[<Literal>]
let HttpConnections = 1024

/// Concurrent incoming transport connections (peers' and not yet authenticated ones); more are refused.
[<Literal>]
let TransportConnections = 256

/// Of the incoming transport connections, those still in their hello: past it, the oldest is closed to make room
/// (core/Transport/Admission.fs), so a client that never authenticates cannot hold the places peers need.
[<Literal>]
let UnauthenticatedTransportConnections = 64

/// Of those, from one source address: a flooding client churns its own connections, not other sources'.
[<Literal>]
let UnauthenticatedTransportConnectionsPerSource = 16

/// Descriptors for everything else: the VM (KVM, userfaultfd, eventfds), outgoing transport links, files, the
/// runtime's own.
[<Literal>]
let OwnDescriptors = 1024

let openFilesNeeded = HttpConnections + TransportConnections + OwnDescriptors

/// The open-files limit a node host runs with, given the hard limit it may raise its soft limit to.
let openFiles (hardLimit: uint64) : Result<uint64, string> =
    if hardLimit >= uint64 openFilesNeeded then Ok hardLimit
    else
        Error(
            "the open-files limit (RLIMIT_NOFILE) is " + string hardLimit + "; a node host needs at least " + string openFilesNeeded
            + " (" + string HttpConnections + " HTTP connections, " + string TransportConnections + " transport connections, "
            + string OwnDescriptors + " of its own): raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit)"
        )
