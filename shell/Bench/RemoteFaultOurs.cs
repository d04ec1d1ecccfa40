using System.Net;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Bench;

/// <summary>
/// One run of the fault guest under one pager, with the round trips to the remote home it made while the guest ran
/// (request → reply, µs, median and p99) and, for the C reference only, the UFFDIO_COPY ioctl's own time (NaN for
/// ours: timing it would mean changing the pager's fault path).
/// </summary>
public sealed record RemoteFaultRun(FaultRun Run, double FetchP50, double FetchP99, double StoreP50, double StoreP99, double CopyP50, double CopyP99);

/// <summary>
/// Our side of <c>ssihv bench remote-fault</c>: the pager and guest of <c>bench fault</c> (<see cref="FaultOurPager"/>),
/// running as node 0, with every page homed on node <see cref="RemoteFaultHome.Node"/>, whose
/// <see cref="HomePageStore"/> is served by a <see cref="TcpNodeTransport"/> in another process. The store is a
/// <see cref="ClusterPageStore"/> over our own TcpNodeTransport, as a boot node host's pager uses it, wrapped in a
/// <see cref="TimedPageStore"/> that times each fetch and write-back.
/// </summary>
public static class RemoteFaultOurs
{
    const int LocalNode = 0;
    // Not measured: only bounds a hello that a loaded host (or a lab machine's TCG under other work) delays.
    static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    public static RemoteFaultRun Run(byte[] guestCode, int pages, int budgetPages, int passes, RemoteFaultHome.Process home, FaultThreadPlacement placement,
        FaultToucher toucher)
    {
        // This node homes nothing; ClusterPageStore still wants its own store for pages homed here.
        using var localStore = new HomePageStore(LocalNode, storeMiB: 1);
        var transport = new TcpNodeTransport(new TransportOptions(LocalNode, new IPEndPoint(IPAddress.Loopback, 0), home.Secret, localStore)
        {
            Log = line => Console.Error.WriteLine($"ssihv bench remote-fault: {line}"),
            // A benchmark measures latency; it must not fail because a loaded host (or a lab machine's TCG) stalled
            // one reply or the hello for 2 s.
            RequestTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = ConnectTimeout,
            // The thread that reads the home's replies steps the completions that install pages and wake the
            // vCPU: it serves faults beside the pager thread, as the C handler that reads its socket does.
            ReplyThreadCpu = placement.PagerCpu,
        });
        try
        {
            transport.SetPeer(RemoteFaultHome.Node, home.Endpoint);
            using (var connecting = new CancellationTokenSource(ConnectTimeout))
            {
                try
                {
                    transport.ConnectAsync(RemoteFaultHome.Node, connecting.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    throw new BenchRunException(
                        $"ours: the remote home at {home.Endpoint} did not complete the hello within {ConnectTimeout.TotalSeconds} s");
                }
            }
            // Every touch of the guest is at most one fetch and one write-back; the read-back adds fewer.
            var timed = new TimedPageStore(new ClusterPageStore(LocalNode, localStore, transport), pages * passes);
            var run = FaultOurPager.Run(guestCode, pages, budgetPages, passes, RemoteFaultHome.Node, _ => timed, timed.StopRecording,
                placement, toucher);
            var (fetches, stores) = (timed.ReadMicroseconds, timed.WriteMicroseconds);
            return new RemoteFaultRun(run,
                FaultStatistics.Median(fetches), FaultStatistics.Quantile(fetches, 0.99),
                FaultStatistics.Median(stores), FaultStatistics.Quantile(stores, 0.99),
                double.NaN, double.NaN);
        }
        catch (TransportException e)
        {
            throw new BenchRunException($"ours: the remote home at {home.Endpoint}: {e.Message}");
        }
        finally
        {
            if (!transport.DisposeAsync().AsTask().Wait(StopTimeout))
                Console.Error.WriteLine($"ssihv bench remote-fault: our transport did not stop within {StopTimeout.TotalSeconds} s");
        }
    }
}
