using System.Diagnostics;
using System.Net.Sockets;
using SsiHv.Core.Transport;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>
/// The admission of incoming connections (docs/transport.md, "Admission") on real sockets on 127.0.0.1: a client
/// that floods a node with connections and never says hello, as one did at about 240 connections a second.
/// </summary>
public sealed class AdmissionTests(ITestOutputHelper output)
{
    const int A = 1, B = 2;
    /// Like the flood that once starved real peers: a connection every 4 ms.
    static readonly TimeSpan FloodInterval = TimeSpan.FromMilliseconds(4);
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_peer_says_hello_and_fetches_while_a_flooder_holds_its_share_and_keeps_connecting_and_the_refusals_are_counted_and_logged_sparingly()
    {
        var pagesOfB = new MemoryPageService();
        pagesOfB.Put(1, Pattern(1));
        var logOfB = new TransportLog(output);
        var clock = Stopwatch.StartNew();
        await using var b = new TcpNodeTransport(Options(B, pagesOfB, logOfB));
        await using var a = new TcpNodeTransport(Options(A, new MemoryPageService(), new TransportLog(output)));
        a.SetPeer(B, Address(b));

        using var stop = new CancellationTokenSource(Limit);
        var flooder = Task.Run(() => Flood(b, stop.Token));
        long Evicted() => b.Incoming().Refusals[IncomingRefusalModule.label(IncomingRefusal.SourceShare)];
        var share = NodeLimitsShare();

        // The flooder holds its share of unauthenticated connections and its new ones evict its old ones.
        await Poll.UntilAsync("the flooder's connections evicting its own older ones", Limit,
            () => Task.FromResult(Evicted() >= 20 && b.Incoming().Unauthenticated >= share), () => Describe(b));

        await a.ConnectAsync(B, CancellationToken.None);
        var read = new byte[WireFrame.PageLength];
        await a.FetchPageAsync(B, 1, read);
        Assert.Equal(Pattern(1), read);

        var evictedBefore = Evicted();
        await Poll.UntilAsync("200 more evictions while the peer is connected", Limit,
            () => Task.FromResult(Evicted() >= evictedBefore + 200), () => Describe(b));
        await a.FetchPageAsync(B, 1, read);
        Assert.Equal(Pattern(1), read);
        // While the flooder still holds its connections (they end with it).
        var incoming = b.Incoming();
        stop.Cancel();
        var flood = await flooder;

        Assert.Equal(1, incoming.Authenticated);
        Assert.InRange(incoming.Unauthenticated, 1, share);
        Assert.Equal(0, incoming.Refusals[IncomingRefusalModule.label(IncomingRefusal.PeersFull)]);
        Assert.True(flood.Connected >= 220, $"the flooder opened only {flood.Connected} connections");
        Assert.True(flood.ClosedByB >= 200, $"B closed {flood.ClosedByB} of the flooder's connections");

        // However many were evicted, the log has one line per refusal interval, which counts the rest.
        var intervals = (int)(clock.Elapsed / Options(B, pagesOfB, logOfB).RefusalLogInterval) + 1;
        var evictionLines = logOfB.Lines.Count(line => line.Contains("closed the oldest unauthenticated connection of a source"));
        Assert.InRange(evictionLines, 1, 2 * intervals);
        Assert.True(logOfB.Lines.Count < 20, $"B wrote {logOfB.Lines.Count} lines while it evicted {Evicted()} connections");
    }

    [Fact]
    public async Task Failed_hellos_are_each_counted_and_logged_once_per_interval_by_kind()
    {
        var logOfB = new TransportLog(output);
        await using var b = new TcpNodeTransport(Options(B, new MemoryPageService(), logOfB));
        const int clients = 5;
        for (var i = 0; i < clients; i++)
        {
            using var garbage = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await garbage.ConnectAsync(b.ListenEndpoint);
            await garbage.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
            // B answers ErrorReply(malformedFrame) and closes: read until it did.
            var buffer = new byte[512];
            using var limit = new CancellationTokenSource(Limit);
            while (await garbage.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
            }
        }
        var malformed = IncomingRefusalModule.label(IncomingRefusal.HelloMalformed);
        await Poll.UntilAsync($"{clients} malformed hellos counted", Limit,
            () => Task.FromResult(b.Incoming().Refusals[malformed] == clients), () => Describe(b));
        Assert.Single(logOfB.Lines, line => line.Contains("malformed frame during the hello"));
    }

    /// Connects to `node` every FloodInterval and says nothing; closes its own sockets only when the node closed
    /// them (so it holds every connection the node keeps). Counts the connections and those the node closed.
    static async Task<(int Connected, int ClosedByB)> Flood(TcpNodeTransport node, CancellationToken stop)
    {
        var open = new List<Socket>();
        var connected = 0;
        var closedByNode = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(node.ListenEndpoint, stop);
                open.Add(socket);
                connected++;
                foreach (var closed in open.Where(ClosedByPeer).ToList())
                {
                    closed.Dispose();
                    open.Remove(closed);
                    closedByNode++;
                }
                await Task.Delay(FloodInterval, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var socket in open)
            socket.Dispose();
        return (connected, closedByNode);
    }

    /// The node closed it: what it sent (its Hello) read, the end of the stream is next. Never blocks: a
    /// receive follows only a poll that says one would not.
    static bool ClosedByPeer(Socket socket)
    {
        var discard = new byte[256];
        try
        {
            while (socket.Poll(0, SelectMode.SelectRead))
                if (socket.Receive(discard) == 0)
                    return true;
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    static int NodeLimitsShare() => Core.Cluster.NodeLimits.UnauthenticatedTransportConnectionsPerSource;

    static string Describe(TcpNodeTransport node)
    {
        var incoming = node.Incoming();
        return $"{incoming.Authenticated} authenticated, {incoming.Unauthenticated} unauthenticated, refusals {string.Join(", ", incoming.Refusals.Select(r => $"{r.Key}={r.Value}"))}";
    }
}
