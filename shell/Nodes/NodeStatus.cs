using SsiHv.Core.Paging;
using SsiHv.Shell.Control;
using SsiHv.Shell.Transport;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The live figures of a node host for GET /v1/pages and /metrics, read from its real parts: the page store it
/// serves, the transport's counters and, on the boot node, the pager of the running (or last) VM, whose
/// immutable state the core's Census counts per home node.
/// </summary>
public sealed class NodeStatus(HomePageStore home, INodeTransport transport, NodeEffects effects) : INodeStatus
{
    public long PagesStored => home.PagesStored;

    public IReadOnlyList<PeerTraffic> Traffic() => transport.Traffic();

    public IncomingStats Incoming() => transport.Incoming();

    public PagerStatus? Pager()
    {
        if (effects.LastPager is not { } pager)
            return null;
        var nodes = Census.ofState(pager.State)
            .Select(entry => new NodePages(entry.Key.Value, (long)entry.Value.Homed, (long)entry.Value.Stored, (long)entry.Value.Resident, (long)entry.Value.Remote))
            .ToList();
        var m = pager.Metrics;
        var faults = new FaultCounts(m.ReadFaults, m.WriteFaults, m.WriteProtectFaults, m.ZeroFills, m.Fetches, m.WriteBacks, m.Evictions);
        var latency = effects.PageStore.RemoteFetchLatency.Snapshot();
        return new PagerStatus(nodes, faults, new Control.LatencyHistogram(NodeMetrics.LatencyBoundsSeconds, latency));
    }
}
