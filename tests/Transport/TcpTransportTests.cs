using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>Two or more real transports (and scripted peers) talking over real sockets on 127.0.0.1.</summary>
public sealed class TcpTransportTests(ITestOutputHelper output)
{
    const int A = 1, B = 2;
    static readonly TimeSpan ReplyThreadTimeout = TimeSpan.FromSeconds(10);

    (TransportLog Log, TcpNodeTransport Transport) Start(int node, IPageService pages, Func<TransportOptions, TransportOptions>? adjust = null, int port = 0)
    {
        var log = new TransportLog(output);
        var options = Options(node, pages, log, port: port);
        return (log, new TcpNodeTransport(adjust is null ? options : adjust(options)));
    }

    [Fact]
    public async Task A_page_stored_at_a_peer_is_fetched_back_byte_for_byte_and_counted()
    {
        var pagesOfB = new MemoryPageService();
        var (_, a) = Start(A, new MemoryPageService());
        var (_, b) = Start(B, pagesOfB);
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));

        var written = Pattern(7);
        await a.StorePageAsync(B, 7, written);
        Assert.Equal(written, pagesOfB.Get(7));

        var read = new byte[WireFrame.PageLength];
        await a.FetchPageAsync(B, 7, read);
        Assert.Equal(written, read);
        var never = new byte[WireFrame.PageLength];
        Array.Fill(never, (byte)0xAA);
        await a.FetchPageAsync(B, 8, never);
        Assert.All(never, value => Assert.Equal(0, value));

        var sent = Assert.Single(a.Traffic(), t => t.Node == B);
        Assert.Equal(3, sent.RequestsSent);
        // Two page frames out (store) and in (fetch), plus headers and the hello.
        Assert.InRange(sent.BytesSent, 4096 + 28, 3 * 4200);
        Assert.InRange(sent.BytesReceived, 2 * 4096, 4 * 4200);
        var served = Assert.Single(b.Traffic(), t => t.Node == A);
        Assert.Equal(3, served.RequestsServed);
        Assert.Equal(sent.BytesSent, served.BytesReceived);
    }

    [Fact]
    public async Task A_thousand_concurrent_fetches_on_one_connection_each_get_their_own_page()
    {
        const int requests = 1000;
        var pagesOfB = new MemoryPageService();
        for (ulong page = 0; page < requests; page++)
            pagesOfB.Put(page, Pattern(page, salt: 3));
        var (_, a) = Start(A, new MemoryPageService(), o => o with { MaxInFlightPerPeer = requests, RequestTimeout = TimeSpan.FromSeconds(30) });
        var (logOfB, b) = Start(B, pagesOfB);
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));
        await a.ConnectAsync(B, CancellationToken.None);

        var buffers = new byte[requests][];
        var fetches = new Task[requests];
        for (var i = 0; i < requests; i++)
        {
            buffers[i] = new byte[WireFrame.PageLength];
            fetches[i] = a.FetchPageAsync(B, (ulong)i, buffers[i]).AsTask();
        }
        await Task.WhenAll(fetches).WaitAsync(TimeSpan.FromSeconds(60));

        for (var i = 0; i < requests; i++)
            Assert.True(Pattern((ulong)i, salt: 3).AsSpan().SequenceEqual(buffers[i]), $"fetch of page {i} got another page's bytes");
        Assert.Single(logOfB.Lines, line => line.Contains("accepted a connection from node 1"));
        Assert.Equal(requests, Assert.Single(b.Traffic()).RequestsServed);
    }

    [Fact]
    public async Task A_peer_that_authenticates_but_never_answers_fails_the_request_at_its_timeout()
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        await using var silent = new ScriptedPeer(B, ScriptedPeer.NeverAnswer);
        var (_, a) = Start(A, new MemoryPageService(), o => o with { RequestTimeout = timeout, PingInterval = TimeSpan.FromSeconds(30) });
        await using var _a = a;
        a.SetPeer(B, silent.Address);
        await a.ConnectAsync(B, CancellationToken.None);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.FetchPageAsync(B, 5, new byte[4096]).AsTask());
        clock.Stop();
        Assert.Equal(B, error.Node);
        Assert.Contains("no answer to FetchPage of page 5 within the request timeout (0.5 s)", error.Message);
        Assert.Contains(silent.Address, error.Message);
        // The sweep runs every timeout/10; allow scheduling noise on a busy two-core machine, but not a hang.
        Assert.InRange(clock.Elapsed, timeout - TimeSpan.FromMilliseconds(20), timeout + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_cancelled_request_ends_at_once_and_gives_its_in_flight_place_back()
    {
        await using var silent = new ScriptedPeer(B, ScriptedPeer.NeverAnswer);
        var (_, a) = Start(A, new MemoryPageService(), o => o with { MaxInFlightPerPeer = 1, RequestTimeout = TimeSpan.FromMilliseconds(400), PingInterval = TimeSpan.FromSeconds(30) });
        await using var _a = a;
        a.SetPeer(B, silent.Address);
        await a.ConnectAsync(B, CancellationToken.None);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.FetchPageAsync(B, 1, new byte[4096], cancel.Token).AsTask());
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(350), $"the cancelled request ended after {clock.Elapsed.TotalMilliseconds} ms, its timeout is 400 ms");

        // The only in-flight place is free again: the next request is sent and times out waiting for its answer.
        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.FetchPageAsync(B, 2, new byte[4096]).AsTask());
        Assert.Contains("no answer to FetchPage of page 2", error.Message);
        Assert.Equal(2, Assert.Single(a.Traffic()).RequestsSent);
    }

    [Fact]
    public async Task A_peer_that_accepts_but_never_says_hello_fails_the_connect_within_the_connect_timeout()
    {
        await using var mute = new ScriptedPeer(B, ScriptedPeer.NeverAnswer, hello: false);
        var connectTimeout = TimeSpan.FromMilliseconds(400);
        var (_, a) = Start(A, new MemoryPageService(), o => o with { ConnectTimeout = connectTimeout });
        await using var _a = a;
        a.SetPeer(B, mute.Address);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.FetchPageAsync(B, 1, new byte[4096]).AsTask());
        Assert.Equal(B, error.Node);
        Assert.Contains("the hello did not finish within the connect timeout", error.Message);
        Assert.InRange(clock.Elapsed, connectTimeout - TimeSpan.FromMilliseconds(20), connectTimeout + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_peer_that_restarts_on_its_port_is_dialled_again()
    {
        var pagesOfB = new MemoryPageService();
        pagesOfB.Put(3, Pattern(3));
        var (logOfA, a) = Start(A, new MemoryPageService());
        await using var _a = a;
        var lost = new List<int>();
        a.PeerLost += (node, _) => { lock (lost) lost.Add(node); };
        var (_, first) = Start(B, pagesOfB);
        var port = first.ListenEndpoint.Port;
        a.SetPeer(B, Address(first));
        await a.FetchPageAsync(B, 3, new byte[4096]);

        await first.DisposeAsync();
        var (_, second) = Start(B, pagesOfB, port: port);
        await using var _second = second;

        // The first request after the restart may still go out on the dead connection (it fails with
        // PeerUnavailableException naming the loss); the transport re-dials, and requests succeed again.
        var read = new byte[4096];
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await a.FetchPageAsync(B, 3, read);
                break;
            }
            catch (PeerUnavailableException e) when (deadline.Elapsed < TimeSpan.FromSeconds(3))
            {
                output.WriteLine($"while B restarts: {e.Message}");
                await Task.Delay(20);
            }
        }
        Assert.Equal(Pattern(3), read);
        await logOfA.WaitForAsync(TimeSpan.FromSeconds(5), "connection to node 2", "re-established");
        Assert.Empty(lost);
    }

    [Fact]
    public async Task A_peer_gone_for_good_is_reported_lost_once_with_its_id()
    {
        var (logOfA, a) = Start(A, new MemoryPageService(), o => o with { ReconnectWindow = TimeSpan.FromMilliseconds(500), ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        await using var _a = a;
        var (_, b) = Start(B, new MemoryPageService());
        var lost = new List<(int Node, string Reason)>();
        var firstLoss = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.PeerLost += (node, reason) =>
        {
            lock (lost) lost.Add((node, reason));
            firstLoss.TrySetResult();
        };
        a.SetPeer(B, Address(b));
        await a.ConnectAsync(B, CancellationToken.None);

        await b.DisposeAsync();
        await firstLoss.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.FetchPageAsync(B, 1, new byte[4096]).AsTask());
        Assert.Equal(B, error.Node);
        Assert.Contains("cannot connect", error.Message);

        // A loss is reported at the end of a reconnect window, or by the keep-alive of a live connection, and a
        // window opens only when a live connection closes. The one window that opened has closed with the report,
        // and the failed dial shows no connection is live: nothing is left that could report B again.
        Assert.Single(logOfA.Lines, line => line.Contains("connection to node 2 at") && line.Contains("re-dialling"));
        Assert.Single(logOfA.Lines, line => line.Contains("node 2 at") && line.Contains("is lost"));
        var (node, reason) = Assert.Single(lost);
        Assert.Equal(B, node);
        Assert.Contains("could not be re-established within 0.5 s", reason);
    }

    [Fact]
    public async Task A_peer_that_stops_answering_pings_is_reported_lost()
    {
        await using var silent = new ScriptedPeer(B, ScriptedPeer.NeverAnswer);
        var (_, a) = Start(A, new MemoryPageService(), o => o with { PingInterval = TimeSpan.FromMilliseconds(100), PingTimeout = TimeSpan.FromMilliseconds(200) });
        await using var _a = a;
        var lost = new TaskCompletionSource<(int, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        a.PeerLost += (node, reason) => lost.TrySetResult((node, reason));
        a.SetPeer(B, silent.Address);
        await a.ConnectAsync(B, CancellationToken.None);

        var (node, reason) = await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(B, node);
        Assert.Contains("no answer to Ping for", reason);
    }

    [Fact]
    public async Task Garbage_bytes_and_a_wrong_secret_are_disconnected_and_logged_while_a_good_peer_is_served()
    {
        var pagesOfB = new MemoryPageService();
        pagesOfB.Put(1, Pattern(1));
        var (logOfB, b) = Start(B, pagesOfB);
        var (_, a) = Start(A, new MemoryPageService());
        await using var _b = b;
        await using var _a = a;
        a.SetPeer(B, Address(b));
        await a.ConnectAsync(B, CancellationToken.None);

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var goodFetches = 0;
        var good = Task.Run(async () =>
        {
            var read = new byte[4096];
            while (!cancel.IsCancellationRequested)
            {
                await a.FetchPageAsync(B, 1, read);
                Assert.Equal(Pattern(1), read);
                Interlocked.Increment(ref goodFetches);
            }
        });

        // Garbage: an HTTP request where a frame belongs. B answers ErrorReply(malformed) and closes.
        using (var garbage = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await garbage.ConnectAsync(b.ListenEndpoint);
            var local = garbage.LocalEndPoint!.ToString()!;
            await garbage.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var received = await ReadUntilClosedAsync(garbage, TimeSpan.FromSeconds(10));
            Assert.True(received > 0, "B closed without the ErrorReply for the malformed frame");
            await logOfB.WaitForAsync(TimeSpan.FromSeconds(5), local, "malformed frame during the hello", "magic at offset 0");
        }

        // The wrong secret: a real transport whose proof cannot match; both sides close.
        var (_, intruder) = Start(3, new MemoryPageService(), o => o with { Secret = SecretOf("not the cluster secret at all") });
        await using (intruder)
        {
            intruder.SetPeer(B, Address(b));
            var refused = await Assert.ThrowsAsync<PeerUnavailableException>(() => intruder.ConnectAsync(B, CancellationToken.None));
            Assert.Contains("hello failed", refused.Message);
            await logOfB.WaitForAsync(TimeSpan.FromSeconds(5), "closed the connection from 127.0.0.1", "node 3's proof does not match");
        }

        var before = Volatile.Read(ref goodFetches);
        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref goodFetches) < before + 10 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(10);
        cancel.Cancel();
        await good.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        Assert.True(good.IsCompletedSuccessfully || good.IsCanceled, $"the good peer's fetches failed: {good.Exception}");
        Assert.True(goodFetches >= before + 10, $"the good peer got {goodFetches - before} fetches through after the bad clients");
        Assert.DoesNotContain(b.Traffic(), t => t.Node == 3);
    }

    static async Task<int> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[1024];
        var total = 0;
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            if (received == 0)
                return total;
            total += received;
        }
    }

    [Fact]
    public async Task Back_pressure_never_lets_more_than_the_limit_be_in_flight()
    {
        const int limit = 8, requests = 64;
        var maxHeld = 0;
        await using var holder = new ScriptedPeer(B, frames =>
        {
            // Hold requests until the requester stops sending more (50 ms of quiet), then answer them all.
            var pending = new List<(ulong Id, ulong Page)>();
            var answer = new byte[WireFrame.PageFrameLength];
            var answered = 0;
            frames.ReceiveTimeout = TimeSpan.FromMilliseconds(50);
            while (answered < requests)
            {
                try
                {
                    var frame = frames.Receive();
                    if (frame.IsClosed || frame.Malformed is not null)
                        return;
                    if (frame.Type == WireFrame.FetchPage)
                    {
                        pending.Add((frame.RequestId, WireFrame.ReadPageNumber(frames.Buffer.AsSpan(frame.Offset, frame.Length))));
                        maxHeld = Math.Max(maxHeld, pending.Count);
                    }
                    frames.Consume(frame);
                    continue;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                    // Quiet: the requester waits for answers.
                }
                foreach (var (id, page) in pending)
                {
                    Pattern(page).CopyTo(WireFrame.WritePageFrameHeader(answer, WireFrame.PageData, id, page));
                    frames.Send(answer);
                    answered++;
                }
                pending.Clear();
            }
        });
        var (_, a) = Start(A, new MemoryPageService(), o => o with { MaxInFlightPerPeer = limit, RequestTimeout = TimeSpan.FromSeconds(30) });
        await using var _a = a;
        a.SetPeer(B, holder.Address);
        await a.ConnectAsync(B, CancellationToken.None);

        var buffers = Enumerable.Range(0, requests).Select(_ => new byte[4096]).ToArray();
        await Task.WhenAll(Enumerable.Range(0, requests).Select(i => a.FetchPageAsync(B, (ulong)i, buffers[i]).AsTask()))
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(limit, maxHeld);
        for (var i = 0; i < requests; i++)
            Assert.Equal(Pattern((ulong)i), buffers[i]);
    }

    [Fact]
    public async Task A_store_the_home_refuses_comes_back_as_PeerRefusedException_with_its_reason()
    {
        const string reason = "node 2 homes 2049 pages; its memoryMiB (8) allows 2048";
        var (_, a) = Start(A, new MemoryPageService());
        var (_, b) = Start(B, new MemoryPageService { Refusal = reason });
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));

        var error = await Assert.ThrowsAsync<PeerRefusedException>(() => a.StorePageAsync(B, 2049, Pattern(2049)).AsTask());
        Assert.Equal(B, error.Node);
        Assert.Contains("refused StorePage of page 2049", error.Message);
        Assert.EndsWith(reason, error.Message);
        // The refusal answered one request; the connection goes on.
        await a.FetchPageAsync(B, 1, new byte[4096]);
    }

    [Fact]
    public async Task An_invalidation_reaches_the_peers_service_and_completes_only_once_the_copy_is_dropped()
    {
        var copiesOfB = new HeldInvalidations();
        var pagesOfB = new MemoryPageService();
        pagesOfB.Put(1, Pattern(1));
        var (_, a) = Start(A, new MemoryPageService());
        var (_, b) = Start(B, pagesOfB, o => o with { Invalidations = copiesOfB });
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));

        var invalidated = a.InvalidatePageAsync(B, 42).AsTask();
        await copiesOfB.Arrived.WaitAsync(ReplyThreadTimeout);
        Assert.Equal((42UL, A), Assert.Single(copiesOfB.Seen));
        // While B's pager has not dropped its copy, B's reader goes on serving A's other requests.
        var read = new byte[WireFrame.PageLength];
        await a.FetchPageAsync(B, 1, read).AsTask().WaitAsync(ReplyThreadTimeout);
        Assert.Equal(Pattern(1), read);
        Assert.False(invalidated.IsCompleted, "the invalidation completed before the copy was dropped");

        copiesOfB.Drop();
        await invalidated.WaitAsync(ReplyThreadTimeout);
        // B counts the answer once it is sent, which may be after A has read it.
        await Poll.UntilAsync("B counting both requests served", ReplyThreadTimeout,
            () => Task.FromResult(Assert.Single(b.Traffic(), t => t.Node == A).RequestsServed == 2));

        // A runs no VM (its transport's default service): it holds no copy and acknowledges at once.
        b.SetPeer(A, Address(a));
        await b.InvalidatePageAsync(A, 7).AsTask().WaitAsync(ReplyThreadTimeout);
    }

    [Fact]
    public async Task An_invalidation_of_a_page_outside_the_peers_guest_memory_comes_back_as_PeerRefusedException()
    {
        var copiesOfB = new HeldInvalidations { FirstBadPage = 1000 };
        var (_, a) = Start(A, new MemoryPageService());
        var (logOfB, b) = Start(B, new MemoryPageService(), o => o with { Invalidations = copiesOfB });
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));

        var error = await Assert.ThrowsAsync<PeerRefusedException>(() => a.InvalidatePageAsync(B, 1000).AsTask());
        Assert.Equal(B, error.Node);
        Assert.Contains("refused Invalidate of page 1000", error.Message);
        Assert.EndsWith("could not invalidate page 1000: page 0x3E8 is not guest RAM of this VM", error.Message);
        Assert.True(logOfB.Contains("refused Invalidate of page 1000 from node 1"), string.Join("\n", logOfB.Lines));
        Assert.Empty(copiesOfB.Seen);
        // The refusal answered one request; the connection goes on.
        await a.FetchPageAsync(B, 1, new byte[4096]);
    }

    [Fact]
    public async Task An_invalidation_never_acknowledged_fails_at_the_request_timeout()
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        var (_, a) = Start(A, new MemoryPageService(), o => o with { RequestTimeout = timeout });
        var (_, b) = Start(B, new MemoryPageService(), o => o with { Invalidations = new HeldInvalidations() });
        await using var _a = a;
        await using var _b = b;
        a.SetPeer(B, Address(b));

        var error = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.InvalidatePageAsync(B, 5).AsTask());
        Assert.Contains("no answer to Invalidate of page 5 within the request timeout (0.5 s)", error.Message);
    }

    [Fact]
    public async Task An_invalidation_for_another_node_than_the_authenticated_peer_is_refused()
    {
        var copiesOfB = new HeldInvalidations();
        var log = new TransportLog(output);
        var (_, b) = Start(B, new MemoryPageService(), o => o with { Invalidations = copiesOfB });
        await using var _b = b;
        using var frames = AuthenticatedDial.Connect(b.ListenEndpoint, B, Options(A, new MemoryPageService(), log));
        frames.ReceiveTimeout = ReplyThreadTimeout;

        var request = new byte[WireFrame.InvalidateFrameLength];
        WireFrame.WriteInvalidateFrame(request, 9, 42, requester: 3);
        frames.Send(request);
        var answer = frames.Receive();
        var decoded = Assert.IsType<Core.Transport.Frame.DecodeResult.Decoded>(frames.Decode(answer));
        Assert.Equal(9UL, decoded.Item1.RequestId);
        var refusal = Assert.IsType<Core.Transport.Message.ErrorReply>(decoded.Item1.Message);
        Assert.Equal("node 1 sent Invalidate of page 42 for node 3: a node invalidates only for itself", Core.Transport.ErrorTextModule.value(refusal.Item2));
        Assert.Empty(copiesOfB.Seen);
    }

    [Fact]
    public async Task Addresses_that_are_not_IPv4_and_port_are_refused_with_the_expected_form()
    {
        var (_, a) = Start(A, new MemoryPageService());
        await using var _a = a;
        var error = Assert.Throws<ArgumentException>(() => a.SetPeer(B, "localhost:7101"));
        Assert.Contains("expected IPv4:port, e.g. 127.0.0.1:7101", error.Message);
        Assert.Throws<ArgumentException>(() => a.SetPeer(B, "127.0.0.1:0"));
        var unknown = await Assert.ThrowsAsync<PeerUnavailableException>(() => a.FetchPageAsync(9, 0, new byte[4096]).AsTask());
        Assert.Contains("node 9: no transport address", unknown.Message);
    }

    [Fact]
    public async Task A_second_transport_on_a_taken_port_fails_naming_the_address()
    {
        var (_, first) = Start(A, new MemoryPageService());
        await using var _first = first;
        var port = first.ListenEndpoint.Port;

        var refused = Assert.Throws<TransportException>(() => Start(B, new MemoryPageService(), port: port));
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", refused.Message);
        Assert.Contains("in use", refused.Message);
    }

    [Fact]
    public async Task A_restarted_transport_gets_its_port_back_while_its_old_connections_wait_in_TIME_WAIT()
    {
        var pagesOfB = new MemoryPageService();
        pagesOfB.Put(3, Pattern(3));
        var (_, a) = Start(A, new MemoryPageService());
        var (_, b) = Start(B, pagesOfB);
        await using var _a = a;
        var port = b.ListenEndpoint.Port;
        a.SetPeer(B, Address(b));
        await a.FetchPageAsync(B, 3, new byte[WireFrame.PageLength]);
        // B closes first, so its side of the connection is the one left in TIME_WAIT.
        await b.DisposeAsync();

        var (_, restarted) = Start(B, pagesOfB, port: port);
        await using var _restarted = restarted;
        Assert.Equal(port, restarted.ListenEndpoint.Port);
    }

    // TransportOptions.ReplyThreadCpu: the thread that reads a peer's replies runs on the CPU named, as the kernel
    // reports it in /proc, and a CPU the kernel refuses leaves it unpinned, logged, still serving. Node numbers
    // are these tests' own, so that the thread names ("transport A->B") are unique in the test process.

    [Fact]
    public async Task The_reply_thread_runs_on_the_CPU_named()
    {
        var cpu = Environment.ProcessorCount - 1;
        var allowed = await RunFetchAndReadAffinity(71, 72, cpu, new TransportLog(output));
        Assert.Equal(cpu.ToString(System.Globalization.CultureInfo.InvariantCulture), allowed);
    }

    [Fact]
    public async Task A_CPU_the_kernel_refuses_leaves_the_reply_thread_unpinned_and_logged()
    {
        var log = new TransportLog(output);
        var allowed = await RunFetchAndReadAffinity(73, 74, 1000, log);
        Assert.Equal(File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim(), allowed);
        Assert.True(log.Contains("transport 73->74: the receive thread stays unpinned", "CPU 1000"), string.Join("\n", log.Lines));
    }

    /// Fetches a page from `server` through a transport whose reply thread asks for `cpu`, then returns that thread's
    /// Cpus_allowed_list.
    static async Task<string> RunFetchAndReadAffinity(int client, int server, int cpu, TransportLog log)
    {
        var pages = new MemoryPageService();
        pages.Put(5, Pattern(5));
        await using var home = new TcpNodeTransport(Options(server, pages, log));
        await using var requester = new TcpNodeTransport(Options(client, new MemoryPageService(), log) with { ReplyThreadCpu = cpu });
        requester.SetPeer(server, Address(home));
        var read = new byte[WireFrame.PageLength];
        await requester.FetchPageAsync(server, 5, read).AsTask().WaitAsync(ReplyThreadTimeout);
        Assert.Equal(Pattern(5), read);
        var name = $"transport {client}->{server}";
        var comm = name[..Math.Min(name.Length, 15)]; // the kernel keeps 15 bytes of a thread's name
        var task = Directory.GetDirectories("/proc/self/task").SingleOrDefault(directory => ThreadName(directory) == comm);
        Assert.True(task is not null, $"no thread named '{name}' in /proc/self/task");
        return File.ReadAllLines(Path.Combine(task, "status")).Single(line => line.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim();
    }

    /// Another thread of the test process may end between listing /proc/self/task and reading its name.
    static string? ThreadName(string taskDirectory)
    {
        try { return File.ReadAllText(Path.Combine(taskDirectory, "comm")).TrimEnd('\n'); }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException) { return null; }
    }
}
