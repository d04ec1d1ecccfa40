using SsiHv.Core.Cluster;
using SsiHv.Core.Vm;

namespace SsiHv.Shell.Control;

/// <summary>
/// What the boot node's <see cref="ClusterController"/> asks the rest of the node host to do when the membership
/// state machine returns an action (docs/node-host.md): dial peers, run the VM, move pages. The controller calls
/// these from its own pipeline, one at a time, and bounds every awaited call with a timeout; a call that throws or
/// times out is answered as the documented failure event (PeerLost, VmStartFailed, VmEndUnreported).
/// </summary>
public interface IClusterEffects : IAsyncDisposable
{
    /// Dials the node's transport address and completes the authenticated hello (→ Connected). Throwing means
    /// the node cannot be reached (→ PeerLost); the exception's message is logged as the reason.
    Task ConnectAsync(NodeInfo node, CancellationToken cancellation);

    /// Closes the connection to a node that left, was drained or was lost.
    void Disconnect(int node);

    /// Builds and starts the VM on this topology (→ VmRunning once it runs). The VM's end, whatever ends it,
    /// comes back through <see cref="RunningVm.Ended"/> (→ VmEnded). Throwing means it could not start.
    Task<RunningVm> StartVmAsync(Core.Topology.Topology topology, VmRequest request, CancellationToken cancellation);

    /// Moves every page homed on `source` to `target` (→ DrainComplete source).
    Task MovePagesAsync(int source, int target, CancellationToken cancellation);

    /// Stops the running VM; its end still comes back through <see cref="RunningVm.Ended"/>.
    void StopVm(string reason);

    /// Raised (on any thread) when a connected peer is gone for good: node, reason (→ PeerLost).
    event Action<int, string>? PeerLost;
}

/// <summary>A started VM; <see cref="Ended"/> completes with how its run ended, which the core turns into a reason and an exit code.</summary>
public sealed record RunningVm(Task<VmOutcome> Ended);
