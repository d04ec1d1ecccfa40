using SsiHv.Core.Cluster;
using SsiHv.Shell.Control;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The effects <c>ssihv node</c> runs with until the transport and the VM are composed into the node host:
/// every awaited effect fails with a message saying so (a join is accepted, then the node is lost; a VM start
/// ends at once as failed), so the control plane behaves exactly as it will when a peer is unreachable.
/// </summary>
public sealed class UnwiredClusterEffects : IClusterEffects
{
    const string Missing = "the node-to-node transport and the VM are not composed into 'ssihv node' yet";

    public Task ConnectAsync(Membership.NodeInfo node, CancellationToken cancellation) =>
        Task.FromException(new InvalidOperationException($"cannot dial node {node.Id} at {node.Address}: {Missing}"));

    public void Disconnect(int node) { }

    public Task<RunningVm> StartVmAsync(Core.Topology.Topology topology, VmRequest request, CancellationToken cancellation) =>
        Task.FromException<RunningVm>(new InvalidOperationException(Missing));

    public Task MovePagesAsync(int source, int target, CancellationToken cancellation) =>
        Task.FromException(new InvalidOperationException(Missing));

    public void StopVm(string reason) { }

    // No transport, so no peer can be lost behind the controller's back.
    public event Action<int, string>? PeerLost { add { } remove { } }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>The status of a node host without a page store, transport or pager yet: nothing stored or moved.</summary>
public sealed class UnwiredNodeStatus : INodeStatus
{
    public long PagesStored => 0;
    public IReadOnlyList<Transport.PeerTraffic> Traffic() => [];
    public PagerStatus? Pager() => null;
}
