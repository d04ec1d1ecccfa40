using System.Diagnostics;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Transport;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The boot node pager's page store in a cluster: pages homed on this node go to its own
/// <see cref="HomePageStore"/> (synchronously, as on a single host); pages homed elsewhere are fetched from and
/// written back to their home over the transport. Transport failures reach the pager as faulted tasks, which
/// stop the VM naming the node: bytes are never guessed.
/// </summary>
public sealed class ClusterPageStore(int self, HomePageStore local, INodeTransport transport) : IPageStore
{
    /// Round trips of fetches from other nodes (request sent → page bytes here).
    public LatencyHistogram RemoteFetchLatency { get; } = new();
    long remoteFetches, remoteWriteBacks;

    public long RemoteFetches => Interlocked.Read(ref remoteFetches);
    public long RemoteWriteBacks => Interlocked.Read(ref remoteWriteBacks);

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        if (home == self)
        {
            local.ReadPage(page, destination.Span);
            return ValueTask.CompletedTask;
        }
        Interlocked.Increment(ref remoteFetches);
        return TimedFetch(home, page, destination);
    }

    async ValueTask TimedFetch(int home, ulong page, Memory<byte> destination)
    {
        var started = Stopwatch.GetTimestamp();
        await transport.FetchPageAsync(home, page, destination).ConfigureAwait(false);
        RemoteFetchLatency.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source)
    {
        if (home == self)
        {
            if (!local.TryWritePage(page, source.Span, out var refusal))
                return ValueTask.FromException(new InvalidOperationException(refusal));
            return ValueTask.CompletedTask;
        }
        Interlocked.Increment(ref remoteWriteBacks);
        return transport.StorePageAsync(home, page, source);
    }
}
