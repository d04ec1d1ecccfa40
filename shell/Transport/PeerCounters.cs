namespace SsiHv.Shell.Transport;

/// <summary>The running totals behind <see cref="PeerTraffic"/>: updated with Interlocked from any connection to the peer.</summary>
public sealed class PeerCounters(int node)
{
    public readonly int Node = node;
    public long BytesSent;
    public long BytesReceived;
    public long RequestsSent;
    public long RequestsServed;

    public PeerTraffic Snapshot() => new(Node, Interlocked.Read(ref BytesSent), Interlocked.Read(ref BytesReceived),
        Interlocked.Read(ref RequestsSent), Interlocked.Read(ref RequestsServed), "TCP");
}
