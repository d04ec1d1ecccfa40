using System.Collections.Concurrent;
using SsiHv.Core.Cluster;
using SsiHv.Core.Vm;
using SsiHv.Shell.Control;

namespace SsiHv.Tests.Control;

/// <summary>
/// Stands in for our own transport and VM layer behind <see cref="IClusterEffects"/>: records every call and
/// completes it at once (a VM runs until StopVm). The end-to-end tests with the real layer live elsewhere.
/// </summary>
public sealed class RecordingEffects : IClusterEffects
{
    readonly ConcurrentQueue<string> calls = new();
    TaskCompletionSource<VmOutcome>? vmEnd;

    public IReadOnlyList<string> Calls => calls.ToArray();

    public Core.Topology.Topology? StartedTopology { get; private set; }

    public VmRequest? StartedRequest { get; private set; }

    public bool Disposed { get; private set; }

    public Task ConnectAsync(NodeInfo node, CancellationToken cancellation)
    {
        calls.Enqueue($"connect {node.Id} {node.Address}");
        return Task.CompletedTask;
    }

    public void Disconnect(int node) => calls.Enqueue($"disconnect {node}");

    public Task<RunningVm> StartVmAsync(Core.Topology.Topology topology, VmRequest request, CancellationToken cancellation)
    {
        calls.Enqueue($"start vm on {topology.Nodes.Length} nodes, guest {request.Guest}");
        StartedTopology = topology;
        StartedRequest = request;
        vmEnd = new TaskCompletionSource<VmOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        return Task.FromResult(new RunningVm(vmEnd.Task));
    }

    public Task MovePagesAsync(int source, int target, CancellationToken cancellation)
    {
        calls.Enqueue($"move pages {source} -> {target}");
        return Task.CompletedTask;
    }

    public void StopVm(string reason)
    {
        calls.Enqueue($"stop vm: {reason}");
        vmEnd?.TrySetResult(VmOutcome.PoweredOff);
    }

    public event Action<int, string>? PeerLost;

    public void LosePeer(int node) => PeerLost?.Invoke(node, "test: connection reset");

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Fixed figures for GET /v1/pages and /metrics, so the tests can tell each one arrived where it belongs.</summary>
public sealed class FixedNodeStatus : INodeStatus
{
    public long PagesStored => 123;

    public IReadOnlyList<Shell.Transport.PeerTraffic> Traffic() => [new(1, 4096 * 3, 4096 * 5, 3, 5, "RDMA READ over rxe0")];

    public Shell.Transport.IncomingStats Incoming() =>
        new(2, 5, new Dictionary<string, long> { ["source_share"] = 321, ["hello_rejected"] = 4 });

    public PagerStatus? Pager() => new(
        [new NodePages(0, 262144, 0, 1000, 0), new NodePages(1, 131072, 700, 40, 660)],
        new FaultCounts(Read: 11, Write: 7, WriteProtect: 2, ZeroFills: 9, Fetches: 8, WriteBacks: 3, Evictions: 4),
        new LatencyHistogram(NodeMetrics.LatencyBoundsSeconds, [.. Enumerable.Repeat(0L, 5), 6, 4, .. Enumerable.Repeat(0L, 17)]));
}
