using SsiHv.Core.Paging;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>A fact that runs only where libibverbs finds an RDMA device, and says so when it is skipped.</summary>
public sealed class RdmaDeviceFactAttribute : FactAttribute
{
    public RdmaDeviceFactAttribute()
    {
        var devices = RdmaDevices.List();
        if (!devices.Any)
            Skip = $"no RDMA device: {devices.Summary}";
    }
}

/// <summary>
/// The RDMA transport. The verbs data path needs a device: those facts are skipped here with the reason (this
/// machine has none). What runs everywhere: enumeration and the factory's choice, and the side channel the RDMA
/// setup rides on (new frame types on the authenticated TCP connection), against real sockets.
/// </summary>
public sealed class RdmaTests(ITestOutputHelper output)
{
    const int A = 1, B = 2;

    [Fact]
    public async Task Enumeration_through_libibverbs_works_and_the_factory_picks_the_matching_transport()
    {
        var devices = RdmaDevices.List();
        Assert.Null(devices.Problem); // libibverbs1 is installed by .ci/setup.sh, so the call itself must work
        output.WriteLine($"{devices.Summary} {string.Join(", ", devices.Names)}");
        Assert.All(devices.Names, name => Assert.False(string.IsNullOrWhiteSpace(name)));

        var log = new TransportLog(output);
        await using var transport = NodeTransport.Create(Options(1, new MemoryPageService(), log));
        if (devices.Any)
            Assert.True(transport is Shell.Transport.Rdma.RdmaNodeTransport || log.Contains("using TCP: RDMA device", "cannot be used"));
        else
        {
            Assert.IsType<TcpNodeTransport>(transport);
            Assert.True(log.Contains("using TCP", devices.Summary));
        }
    }

    /// Serves LocatePage from a real HomePageStore, as RdmaHomeService does (which needs a device to exist).
    sealed class SlotLookup(HomePageStore store) : ISideChannelService
    {
        public Message? Serve(int peer, Message request) =>
            request is Message.LocatePage locate ? Message.NewPageLocation(locate.Item, store.SlotOf(locate.Item.Value)) : null;
    }

    static Message Ask(FrameSocket socket, ulong id, Message request)
    {
        socket.Send(WireFrame.Encode(id, request));
        socket.ReceiveTimeout = TimeSpan.FromSeconds(5);
        var frame = socket.Receive();
        Assert.False(frame.IsClosed, "the peer closed the side channel");
        var decoded = Assert.IsType<Frame.DecodeResult.Decoded>(socket.Decode(frame));
        socket.Consume(frame);
        Assert.Equal(id, decoded.Item1.RequestId);
        return decoded.Item1.Message;
    }

    [Fact]
    public async Task The_side_channel_answers_slot_lookups_after_the_hello_and_a_node_without_RDMA_refuses_RdmaConnect()
    {
        using var store = new HomePageStore(B, storeMiB: 1);
        var log = new TransportLog(output);
        await using var withSideChannel = new TcpNodeTransport(Options(B, store, log), new SlotLookup(store));
        await using var tcpOnly = new TcpNodeTransport(Options(3, new MemoryPageService(), log));
        await using var requester = new TcpNodeTransport(Options(A, new MemoryPageService(), log));
        requester.SetPeer(B, Address(withSideChannel));
        await requester.StorePageAsync(B, 0x51, Pattern(0x51));

        var options = Options(A, new MemoryPageService(), log);
        using (var channel = AuthenticatedDial.Connect(withSideChannel.ListenEndpoint, B, options))
        {
            var located = Assert.IsType<Message.PageLocation>(Ask(channel, 7, Message.NewLocatePage(PageNumber.NewPageNumber(0x51))));
            Assert.Equal((0x51UL, store.SlotOf(0x51)), (located.Item1.Value, located.slot));
            Assert.True(located.slot >= 0);
            var never = Assert.IsType<Message.PageLocation>(Ask(channel, 8, Message.NewLocatePage(PageNumber.NewPageNumber(0x52))));
            Assert.Equal(-1, never.slot);
            // FetchPage still works on the same kind of connection: the side channel only adds requests.
            var fetched = Ask(channel, 9, Message.NewFetchPage(PageNumber.NewPageNumber(0x51)));
            Assert.Equal(Pattern(0x51), PageBytesModule.toArray(Assert.IsType<Message.PageData>(fetched).Item2));
        }

        // A node with TCP only: the requester learns to fetch from it over TCP, and the connection goes on.
        using var toTcpOnly = AuthenticatedDial.Connect(tcpOnly.ListenEndpoint, 3, options);
        var endpoint = new RdmaEndpoint(0x11, 0x22, 5, GidModule.tryCreate(new byte[16]).ResultValue, 3);
        var refusal = Assert.IsType<Message.ErrorReply>(Ask(toTcpOnly, 1, Message.NewRdmaConnect(endpoint)));
        Assert.Equal(ErrorCodeModule.unsupportedRequest, refusal.Item1);
        Assert.Contains("does not serve RdmaConnect", ErrorTextModule.value(refusal.Item2));
        Assert.True(Ask(toTcpOnly, 0, Message.Ping).IsPong);
    }

    [Fact]
    public async Task A_dial_to_a_node_that_authenticates_as_another_is_refused_naming_both()
    {
        var log = new TransportLog(output);
        await using var other = new TcpNodeTransport(Options(B, new MemoryPageService(), log));
        var error = Assert.Throws<PeerUnavailableException>(() => AuthenticatedDial.Connect(other.ListenEndpoint, 5, Options(A, new MemoryPageService(), log)));
        Assert.Contains($"node 5 at {other.ListenEndpoint}: the peer there authenticated as node 2, not node 5", error.Message);
    }

    (TransportLog Log, INodeTransport A, INodeTransport B, HomePageStore PagesOfB) StartPair(TimeSpan? reconnectWindow = null)
    {
        var log = new TransportLog(output);
        var pagesOfB = new HomePageStore(B, storeMiB: 4);
        // In a lab machine (soft RoCE under TCG) every timeout stretches like the tests' own limits.
        var a = NodeTransport.Create((Options(A, new HomePageStore(A, storeMiB: 1), log) with { ReconnectWindow = reconnectWindow ?? TimeSpan.FromSeconds(5) }).Scaled(TestScale.Scale));
        var b = NodeTransport.Create(Options(B, pagesOfB, log).Scaled(TestScale.Scale));
        Assert.IsType<Shell.Transport.Rdma.RdmaNodeTransport>(a);
        a.SetPeer(B, Address(b));
        return (log, a, b, pagesOfB);
    }

    [Trait(Needs.Trait, Needs.Rdma)]
    [RdmaDeviceFact]
    public async Task Pages_round_trip_over_RDMA_between_two_transports_from_the_factory()
    {
        var (log, a, b, pagesOfB) = StartPair();
        await using var _a = a;
        await using var _b = b;
        using var _pages = pagesOfB;

        await a.StorePageAsync(B, 11, Pattern(11));
        var stored = new byte[4096];
        pagesOfB.ReadPage(11, stored);
        Assert.Equal(Pattern(11), stored);
        var read = new byte[4096];
        await a.FetchPageAsync(B, 11, read);
        Assert.Equal(Pattern(11), read);
        Assert.True(log.Contains("RDMA path to node 2", "ready"));
        var zero = new byte[4096];
        Array.Fill(zero, (byte)0xAA);
        await a.FetchPageAsync(B, 12, zero);
        Assert.All(zero, value => Assert.Equal(0, value));
        // The store and the fetches: at least the READ of page 11 was counted besides the TCP store.
        Assert.True(Assert.Single(a.Traffic(), t => t.Node == B).RequestsSent >= 2);
        // Invalidate goes over the TCP side; B runs no VM, so it holds no copy and acknowledges at once.
        await a.InvalidatePageAsync(B, 11);
    }

    [Trait(Needs.Trait, Needs.Rdma)]
    [RdmaDeviceFact]
    public async Task A_hundred_concurrent_fetches_each_get_their_page_and_fetches_racing_stores_never_see_a_torn_page()
    {
        var (_, a, b, pagesOfB) = StartPair();
        await using var _a = a;
        await using var _b = b;
        using var _pages = pagesOfB;
        for (ulong page = 0; page < 100; page++)
            await a.StorePageAsync(B, page, Pattern(page, salt: 5));

        var buffers = Enumerable.Range(0, 100).Select(_ => new byte[4096]).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => a.FetchPageAsync(B, (ulong)i, buffers[i]).AsTask())).WaitAsync(TestScale.Seconds(30));
        for (var i = 0; i < 100; i++)
            Assert.True(Pattern((ulong)i, salt: 5).AsSpan().SequenceEqual(buffers[i]), $"fetch of page {i} got other bytes");

        // The home overwrites page 7 with whole patterns while we fetch it: every fetch must be one of them.
        var salts = Enumerable.Range(0, 50).Select(salt => Pattern(7, salt)).ToArray();
        using var stop = new CancellationTokenSource();
        var storing = Task.Run(() =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
                Assert.True(pagesOfB.TryWritePage(7, salts[i++ % salts.Length], out _));
        });
        var fetched = new byte[4096];
        for (var i = 0; i < 2000; i++)
        {
            await a.FetchPageAsync(B, 7, fetched);
            Assert.True(salts.Any(s => s.AsSpan().SequenceEqual(fetched)), $"fetch {i} of page 7 is not one whole stored page");
        }
        stop.Cancel();
        await storing.WaitAsync(TestScale.Seconds(10));
    }

    [Trait(Needs.Trait, Needs.Rdma)]
    [RdmaDeviceFact]
    public async Task A_home_that_goes_away_fails_fetches_as_unavailable_and_is_reported_lost()
    {
        var (log, a, b, pagesOfB) = StartPair(reconnectWindow: TimeSpan.FromSeconds(1));
        await using var _a = a;
        using var _pages = pagesOfB;
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        a.PeerLost += (node, reason) => lost.TrySetResult($"{node}: {reason}");
        await a.StorePageAsync(B, 3, Pattern(3));
        await a.FetchPageAsync(B, 3, new byte[4096]);

        await b.DisposeAsync();
        await Assert.ThrowsAsync<PeerUnavailableException>(async () =>
        {
            // The first fetches may still find the path: the home's queue pair is gone, so they fail too.
            for (var i = 0; i < 10; i++)
                await a.FetchPageAsync(B, 3, new byte[4096]);
        });
        Assert.StartsWith("2: ", await lost.Task.WaitAsync(TestScale.Seconds(15)));
        Assert.True(log.Contains("node 2", "is lost"));
    }
}
