namespace SsiHv.Shell.Control;

/// <summary>
/// The live figures of a node host that GET /v1/pages and /metrics report (docs/node-host.md). The node host
/// implements it over its real parts: the page store, the transport's per-peer traffic and, on the boot node
/// while a VM runs, the pager. Called on request threads at any time, so every member only reads counters.
/// </summary>
public interface INodeStatus
{
    /// Pages this node's page store holds now.
    long PagesStored { get; }

    /// Bytes moved to and from each peer over the transport.
    IReadOnlyList<Transport.PeerTraffic> Traffic();

    /// The transport's incoming connections and refusals.
    Transport.IncomingStats Incoming();

    /// The boot node's pager while a VM runs; null on memory nodes and when no VM runs.
    PagerStatus? Pager();
}

/// <summary>The pager's view of guest memory, per home node, and its faults.</summary>
public sealed record PagerStatus(IReadOnlyList<NodePages> Nodes, FaultCounts Faults, LatencyHistogram RemoteFaultLatency);

/// <summary>
/// One home node's share of guest memory: pages it homes (its SRAT range), pages of that range stored at the
/// home's page store, pages of it resident in guest memory on the boot node, and pages whose newest bytes are
/// only at the home (a guest access must fetch them).
/// </summary>
public readonly record struct NodePages(int Node, long PagesHomed, long PagesStored, long PagesResident, long PagesRemote);

public readonly record struct FaultCounts(
    long Read, long Write, long WriteProtect, long ZeroFills, long Fetches, long WriteBacks, long Evictions);

/// <summary>
/// Latencies of the page fetches that serve guest faults from a remote home (request sent to bytes on the boot
/// node), as counts per bucket: Counts[i] fetches took at most UpperBoundsSeconds[i] (and more than the bound
/// before it). The bounds rise.
/// </summary>
public sealed record LatencyHistogram(IReadOnlyList<double> UpperBoundsSeconds, IReadOnlyList<long> Counts)
{
    public static LatencyHistogram Empty { get; } = new([], []);

    public long Total => Counts.Sum();

    /// The upper bound (seconds) of the bucket holding the given quantile; 0 when nothing was counted.
    public double QuantileSeconds(double quantile) =>
        Pager.LatencyHistogram.QuantileBucket(Counts, quantile) is var i and >= 0 ? UpperBoundsSeconds[i] : 0;
}
