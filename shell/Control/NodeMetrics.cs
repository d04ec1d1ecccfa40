using Prometheus;

namespace SsiHv.Shell.Control;

/// <summary>
/// The node host's Prometheus metrics (GET /metrics), read from <see cref="INodeStatus"/> just before each
/// scrape so they are the same numbers GET /v1/pages reports. One registry per node host: several hosts share
/// a process in tests and in <c>ssihv up</c>.
/// </summary>
public sealed class NodeMetrics
{
    readonly INodeStatus status;
    readonly Histogram remoteFaultLatency;
    readonly Counter faults;
    readonly Counter pagerActions;
    readonly Gauge pagesResident;
    readonly Gauge pagesRemote;
    readonly Gauge pagesStored;
    readonly Counter peerBytes;
    readonly Counter incomingRefusals;
    readonly Gauge incomingConnections;
    // Bucket counts already observed into the histogram: each scrape observes only what is new.
    long[] observedLatencyCounts = [];
    readonly Lock scrape = new();

    public NodeMetrics(INodeStatus status, int self)
    {
        this.status = status;
        Registry = Metrics.NewCustomRegistry();
        Registry.SetStaticLabels(new Dictionary<string, string> { ["ssihv_node"] = self.ToString() });
        var factory = Metrics.WithCustomRegistry(Registry);
        remoteFaultLatency = factory.CreateHistogram("ssihv_remote_fault_latency_seconds",
            "Round trip of a page fetch from another node that serves a guest fault: request sent to bytes on the boot node (each counted at its bucket's upper bound).",
            new HistogramConfiguration { Buckets = LatencyBoundsSeconds });
        faults = factory.CreateCounter("ssihv_page_faults_total", "Guest page faults taken by the boot node's pager, by kind.", "kind");
        pagerActions = factory.CreateCounter("ssihv_pager_actions_total", "What the pager did about faults and evictions.", "action");
        pagesResident = factory.CreateGauge("ssihv_pages_resident", "Pages of a home node's guest memory resident in the VM on the boot node.", "node");
        pagesRemote = factory.CreateGauge("ssihv_pages_remote", "Pages of a home node's guest memory whose newest bytes are only at that home.", "node");
        pagesStored = factory.CreateGauge("ssihv_pages_stored", "Pages held in this node's page store.");
        peerBytes = factory.CreateCounter("ssihv_peer_bytes_total", "Bytes moved over the transport to (sent) and from (received) each peer.", "peer", "direction");
        incomingRefusals = factory.CreateCounter("ssihv_transport_refusals_total",
            "Incoming transport connections closed before they served a peer, by reason: evicted or refused by the admission, a failed hello, a failed accept (docs/transport.md, \"Admission\").", "reason");
        incomingConnections = factory.CreateGauge("ssihv_transport_incoming_connections",
            "Incoming transport connections open now: authenticated peers, and unauthenticated ones still in their hello.", "state");
        Registry.AddBeforeCollectCallback(Update);
    }

    public CollectorRegistry Registry { get; }

    /// Power-of-two microsecond buckets, as the pager counts them: 1 µs .. 8 s.
    public static double[] LatencyBoundsSeconds { get; } = Enumerable.Range(0, 24).Select(i => (1L << i) / 1e6).ToArray();

    void Update()
    {
        lock (scrape)
        {
            pagesStored.Set(status.PagesStored);
            foreach (var peer in status.Traffic())
            {
                var node = peer.Node.ToString();
                peerBytes.WithLabels(node, "sent").IncTo(peer.BytesSent);
                peerBytes.WithLabels(node, "received").IncTo(peer.BytesReceived);
            }
            var incoming = status.Incoming();
            incomingConnections.WithLabels("authenticated").Set(incoming.Authenticated);
            incomingConnections.WithLabels("unauthenticated").Set(incoming.Unauthenticated);
            foreach (var (reason, count) in incoming.Refusals)
                incomingRefusals.WithLabels(reason).IncTo(count);
            if (status.Pager() is not { } pager)
                return;
            foreach (var node in pager.Nodes)
            {
                pagesResident.WithLabels(node.Node.ToString()).Set(node.PagesResident);
                pagesRemote.WithLabels(node.Node.ToString()).Set(node.PagesRemote);
            }
            var f = pager.Faults;
            faults.WithLabels("read").IncTo(f.Read);
            faults.WithLabels("write").IncTo(f.Write);
            faults.WithLabels("write_protect").IncTo(f.WriteProtect);
            pagerActions.WithLabels("zero_fill").IncTo(f.ZeroFills);
            pagerActions.WithLabels("fetch").IncTo(f.Fetches);
            pagerActions.WithLabels("write_back").IncTo(f.WriteBacks);
            pagerActions.WithLabels("eviction").IncTo(f.Evictions);
            ObserveNewLatencies(pager.RemoteFaultLatency);
        }
    }

    void ObserveNewLatencies(LatencyHistogram latency)
    {
        if (observedLatencyCounts.Length != latency.Counts.Count)
            observedLatencyCounts = new long[latency.Counts.Count];
        for (var i = 0; i < latency.Counts.Count; i++)
        {
            var added = latency.Counts[i] - observedLatencyCounts[i];
            if (added > 0)
                remoteFaultLatency.Observe(latency.UpperBoundsSeconds[i], added);
            observedLatencyCounts[i] = latency.Counts[i];
        }
    }

    /// GET /v1/pages: the same figures as one JSON document.
    public static PagesReply Pages(INodeStatus status)
    {
        var pager = status.Pager();
        var f = pager?.Faults ?? default;
        var latency = pager?.RemoteFaultLatency ?? LatencyHistogram.Empty;
        return new PagesReply(
            pager?.Nodes.Select(n => new NodePagesReply(n.Node, n.PagesHomed, n.PagesStored, n.PagesResident, n.PagesRemote)).ToList() ?? [],
            new FaultsReply(f.Read, f.Write, f.WriteProtect, f.ZeroFills, f.Fetches, f.WriteBacks, f.Evictions),
            new LatencyReply(latency.QuantileSeconds(0.5) * 1e6, latency.QuantileSeconds(0.99) * 1e6),
            status.Traffic().Select(p => new PeerReply(p.Node, p.BytesSent, p.BytesReceived, p.Fetches)).ToList());
    }
}
