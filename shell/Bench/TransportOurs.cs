using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using SsiHv.Core.Transport;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Bench;

/// <summary>
/// Our side of <c>ssihv bench transport</c>: two TCP transports in this process on 127.0.0.1 (node 1 requests,
/// node 2 serves a constant page), FetchPage → PageData one at a time and then `depth` at a time on one
/// connection, the same counts as the C reference.
/// </summary>
public static class TransportOurs
{
    const int Client = 1, Server = 2;
    /// Requests before timing starts: the JIT's tiering and the connection's buffers settle first.
    const int WarmUp = 5000;

    sealed class ConstantPage : IPageService
    {
        readonly byte[] page = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))];

        public void ReadPage(ulong number, Span<byte> destination) => page.CopyTo(destination);

        public bool TryWritePage(ulong number, ReadOnlySpan<byte> source, out string? refusal)
        {
            refusal = "the benchmark serves fetches only";
            return false;
        }
    }

    public static async Task<TransportRun> RunAsync(int sequential, int pipelined, int depth, Action<string> log)
    {
        var secret = ClusterSecretModule.tryCreate(RandomNumberGenerator.GetBytes(32)).ResultValue;
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        var service = new ConstantPage();
        await using var server = new TcpNodeTransport(new TransportOptions(Server, loopback, secret, service) { Log = log });
        await using var client = new TcpNodeTransport(new TransportOptions(Client, loopback, secret, service)
        {
            Log = log,
            MaxInFlightPerPeer = Math.Max(depth, 1),
            RequestTimeout = TimeSpan.FromSeconds(10),
        });
        client.SetPeer(Server, server.ListenEndpoint.ToString());
        await client.ConnectAsync(Server, CancellationToken.None);

        var page = new byte[4096];
        for (var i = 0; i < WarmUp; i++)
            await client.FetchPageAsync(Server, (ulong)i, page);

        var latencies = new double[sequential];
        for (var i = 0; i < sequential; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.FetchPageAsync(Server, (ulong)i, page);
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        CheckPage(page);

        var remaining = pipelined;
        var clock = Stopwatch.StartNew();
        var workers = new Task[depth];
        for (var w = 0; w < depth; w++)
            workers[w] = Task.Run(async () =>
            {
                var destination = new byte[4096];
                while (Interlocked.Decrement(ref remaining) >= 0)
                    await client.FetchPageAsync(Server, 1, destination);
                CheckPage(destination);
            });
        await Task.WhenAll(workers);
        clock.Stop();
        return new TransportRun(latencies, pipelined / clock.Elapsed.TotalSeconds);
    }

    static void CheckPage(byte[] page)
    {
        for (var i = 0; i < page.Length; i++)
            if (page[i] != (byte)(i * 7))
                throw new BenchRunException($"ours: the fetched page differs from the served one at byte {i}");
    }
}
