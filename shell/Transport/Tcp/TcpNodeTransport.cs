using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// The TCP transport (docs/transport.md, "TCP transport"): one listening socket serving peers' requests from the
/// page service, and per peer one connection we dial for our requests. Requests are paired with replies by id,
/// bounded per peer (back-pressure) and in time (one sweep timer fails the overdue ones and pings silent peers).
/// </summary>
public sealed class TcpNodeTransport : INodeTransport
{
    readonly Socket listener;
    readonly CancellationTokenSource stopping = new();
    readonly ConcurrentDictionary<int, PeerLink> links = new();
    readonly ConcurrentDictionary<int, PeerCounters> counters = new();
    readonly ConcurrentDictionary<long, IncomingConnection> incoming = new();
    readonly Thread acceptLoop;
    readonly Timer sweep;
    readonly long requestTimeoutMs;
    long lastConnection;
    int sweeping;
    int disposed;

    // <sys/socket.h> on Linux.
    const int SolSocket = 1, SoReuseAddr = 2;

    public TcpNodeTransport(TransportOptions options, ISideChannelService? sideChannel = null)
    {
        options.Validate();
        Options = options;
        SideChannel = sideChannel;
        requestTimeoutMs = (long)options.RequestTimeout.TotalMilliseconds;
        Admission = new IncomingAdmission(options.Self, options.RefusalLogInterval, options.Log);
        listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // A restarted node host must get its port back while the old connections sit in TIME_WAIT: SO_REUSEADDR
            // alone. .NET's ReuseAddress option also sets SO_REUSEPORT on Linux, which let a second process listen on
            // the same port and take a share of the peers' connections.
            listener.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            listener.Bind(options.Listen);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new TransportException($"transport: cannot listen on {options.Listen}: {e.Message}", e);
        }
        ListenEndpoint = (IPEndPoint)listener.LocalEndPoint!;
        acceptLoop = new Thread(AcceptLoop) { IsBackground = true, Name = $"transport {options.Self} accept" };
        acceptLoop.Start();
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(
            Math.Min(options.RequestTimeout.TotalMilliseconds, options.PingInterval.TotalMilliseconds) / 10, 5, 100));
        sweep = new Timer(static state => ((TcpNodeTransport)state!).Sweep(), this, tick, tick);
        Log($"transport: node {Self}: TCP, listening on {ListenEndpoint}");
    }

    public TransportOptions Options { get; }
    /// Serves peers' requests beyond page traffic (the RDMA transport's setup); null: none are served.
    public ISideChannelService? SideChannel { get; }
    public int Self => Options.Self;
    public IPEndPoint ListenEndpoint { get; }
    public CancellationToken Stopping => stopping.Token;
    /// Which incoming connections are kept, and the refusals' counts and log lines.
    public IncomingAdmission Admission { get; }
    public event Action<int, string>? PeerLost;

    public void Log(string line) => Options.Log(line);

    public void SetPeer(int node, string address)
    {
        if (node == Self)
            throw new ArgumentException($"transport: node {node} is this node; only peers have addresses", nameof(node));
        var endpoint = PeerAddress.Parse(address);
        var link = new PeerLink(this, node, endpoint, CountersOf(node));
        while (true)
        {
            if (links.TryGetValue(node, out var existing))
            {
                if (existing.Address.Equals(endpoint))
                    return;
                if (!links.TryUpdate(node, link, existing))
                    continue;
                existing.Remove($"node {node} moved to {endpoint}");
                return;
            }
            if (links.TryAdd(node, link))
                return;
        }
    }

    public void RemovePeer(int node)
    {
        if (links.TryRemove(node, out var link))
            link.Remove($"node {node} was removed from this transport");
    }

    public async Task ConnectAsync(int node, CancellationToken cancellation) =>
        await LinkOf(node).GetConnectionAsync(cancellation);

    public ValueTask FetchPageAsync(int node, ulong page, Memory<byte> destination, CancellationToken cancellation = default)
    {
        if (destination.Length < WireFrame.PageLength)
            throw new ArgumentException($"FetchPageAsync: the destination holds {destination.Length} bytes, a page is {WireFrame.PageLength}", nameof(destination));
        return RequestAsync(LinkOf(node), WireFrame.FetchPage, page, destination[..WireFrame.PageLength], default, cancellation);
    }

    public ValueTask StorePageAsync(int node, ulong page, ReadOnlyMemory<byte> source, CancellationToken cancellation = default)
    {
        if (source.Length != WireFrame.PageLength)
            throw new ArgumentException($"StorePageAsync: the source holds {source.Length} bytes, a page is {WireFrame.PageLength}", nameof(source));
        return RequestAsync(LinkOf(node), WireFrame.StorePage, page, default, source, cancellation);
    }

    public ValueTask InvalidatePageAsync(int node, ulong page, CancellationToken cancellation = default) =>
        RequestAsync(LinkOf(node), WireFrame.Invalidate, page, default, default, cancellation);

    PeerLink LinkOf(int node) =>
        links.TryGetValue(node, out var link)
            ? link
            : throw new PeerUnavailableException(node, $"node {node}: no transport address (SetPeer was not called, or RemovePeer removed it)");

    /// Pooled state machines: a request that waits for its reply would otherwise allocate one per call.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    async ValueTask RequestAsync(PeerLink link, byte type, ulong page, Memory<byte> destination, ReadOnlyMemory<byte> source, CancellationToken cancellation)
    {
        var deadline = Environment.TickCount64 + requestTimeoutMs;
        if (!link.InFlight.Wait(0) && !await link.InFlight.WaitAsync(Options.RequestTimeout, cancellation))
            throw link.Unavailable($"{Options.MaxInFlightPerPeer} requests stayed in flight for the whole request timeout ({Options.RequestTimeout.TotalSeconds:0.###} s)");
        PendingRequest? slot = null;
        CancellationTokenRegistration cancelled = default;
        try
        {
            var connection = await link.GetConnectionAsync(cancellation);
            slot = link.RentSlot();
            var id = link.NextRequestId(slot);
            slot.Arm(id, type, page, destination, deadline, connection);
            if (connection.IsClosed && slot.TryClaim(id))
                slot.Fail(link.Unavailable($"the connection was lost ({connection.LossReason})"));
            if (cancellation.CanBeCanceled)
                cancelled = cancellation.UnsafeRegister(static state => Cancel((PendingRequest)state!), slot);
            try
            {
                Send(connection, type, id, page, source.Span);
                Interlocked.Increment(ref link.Counters.RequestsSent);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (e is SocketException)
                    connection.Close($"sending failed: {e.Message}");
                if (slot.TryClaim(id))
                    slot.Fail(link.Unavailable($"sending {TcpPeerConnection.TypeName(type)} of page {page} failed: {e.Message}", e));
            }
            await new ValueTask(slot, slot.Version);
        }
        finally
        {
            cancelled.Dispose();
            if (slot is not null)
                link.ReturnSlot(slot);
            link.InFlight.Release();
        }
    }

    /// The frame is built on the stack and sent from the caller's thread: a blocking send into the socket
    /// buffer, which waits only when the peer stopped reading (bounded by the send timeout).
    void Send(TcpPeerConnection connection, byte type, ulong id, ulong page, ReadOnlySpan<byte> source)
    {
        switch (type)
        {
            case WireFrame.FetchPage:
            {
                Span<byte> frame = stackalloc byte[WireFrame.PageNumberFrameLength];
                connection.Socket.Send(frame[..WireFrame.WritePageNumberFrame(frame, WireFrame.FetchPage, id, page)]);
                break;
            }
            case WireFrame.Invalidate:
            {
                Span<byte> frame = stackalloc byte[WireFrame.InvalidateFrameLength];
                connection.Socket.Send(frame[..WireFrame.WriteInvalidateFrame(frame, id, page, Self)]);
                break;
            }
            default:
            {
                Span<byte> frame = stackalloc byte[WireFrame.PageFrameLength];
                source.CopyTo(WireFrame.WritePageFrameHeader(frame, WireFrame.StorePage, id, page));
                connection.Socket.Send(frame);
                break;
            }
        }
    }

    static void Cancel(PendingRequest slot)
    {
        var id = slot.PendingId;
        if (slot.TryClaim(id))
            slot.Fail(new OperationCanceledException("the caller cancelled the request"));
    }

    /// Fails requests past their deadline and keeps silent connections honest with Ping.
    void Sweep()
    {
        if (Interlocked.Exchange(ref sweeping, 1) != 0)
            return;
        try
        {
            var now = Environment.TickCount64;
            foreach (var (_, link) in links)
            {
                foreach (var slot in link.Slots)
                {
                    var id = slot.PendingId;
                    if (id != 0 && slot.DeadlineTicks <= now && slot.TryClaim(id))
                        slot.Fail(link.Unavailable(
                            $"no answer to {TcpPeerConnection.TypeName(slot.RequestType)} of page {slot.Page} within the request timeout ({Options.RequestTimeout.TotalSeconds:0.###} s)"));
                }
                KeepAlive(link, now);
            }
            Admission.LogSummaries();
        }
        finally
        {
            Volatile.Write(ref sweeping, 0);
        }
    }

    void KeepAlive(PeerLink link, long now)
    {
        if (link.Current is not { IsClosed: false } connection)
            return;
        var silentMs = now - connection.Socket.LastReceivedTicks;
        var intervalMs = (long)Options.PingInterval.TotalMilliseconds;
        if (silentMs >= intervalMs + (long)Options.PingTimeout.TotalMilliseconds)
            link.OnSilent(connection, $"no answer to Ping for {silentMs / 1000.0:0.###} s");
        else if (silentMs >= intervalMs && now - connection.LastPingTicks >= intervalMs)
        {
            connection.LastPingTicks = now;
            // Off the sweep: a ping to a peer that stopped reading blocks up to the send timeout.
            ThreadPool.UnsafeQueueUserWorkItem(static connection => Ping(connection), connection, preferLocal: false);
        }
    }

    static void Ping(TcpPeerConnection connection)
    {
        try
        {
            connection.Socket.Send(TcpPeerConnection.PingFrame);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The keep-alive notices the silence; a failed send needs no second report.
        }
    }

    public PeerCounters CountersOf(int node) => counters.GetOrAdd(node, static node => new PeerCounters(node));

    public IReadOnlyList<PeerTraffic> Traffic()
    {
        var traffic = new List<PeerTraffic>(counters.Count);
        foreach (var (_, peer) in counters)
            traffic.Add(peer.Snapshot());
        traffic.Sort(static (a, b) => a.Node.CompareTo(b.Node));
        return traffic;
    }

    public IncomingStats Incoming() => Admission.Snapshot();

    public void RaisePeerLost(int node, string reason)
    {
        try
        {
            PeerLost?.Invoke(node, reason);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A subscriber's fault must not stop the transport thread that noticed the loss.
            Log($"transport: node {Self}: a PeerLost handler for node {node} threw: {e.Message}");
        }
    }

    void AcceptLoop()
    {
        var failuresInARow = 0;
        while (true)
        {
            Socket socket;
            try
            {
                socket = listener.Accept();
                failuresInARow = 0;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (stopping.IsCancellationRequested || e is ObjectDisposedException)
                    return;
                // Out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS): the connection waits in the listen
                // queue and an accept at once fails at once, so wait as core AcceptBackoff says.
                var (inARow, delayMs) = AcceptBackoff.after(AcceptFailureOf(((SocketException)e).SocketErrorCode), failuresInARow);
                failuresInARow = inARow;
                Admission.Refused(IncomingRefusal.AcceptFailed,
                    $"accept failed: {e.Message}{(delayMs > 0 ? $"; accepting again in {delayMs} ms" : "")}");
                if (delayMs > 0 && stopping.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(delayMs)))
                    return;
                continue;
            }
            if (stopping.IsCancellationRequested)
            {
                socket.Dispose();
                return;
            }
            Admit(socket);
        }
    }

    static AcceptBackoff.AcceptFailure AcceptFailureOf(SocketError error) => error switch
    {
        SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable => AcceptBackoff.AcceptFailure.ResourcesExhausted,
        SocketError.ConnectionAborted or SocketError.ConnectionReset => AcceptBackoff.AcceptFailure.ConnectionAborted,
        _ => AcceptBackoff.AcceptFailure.OtherFailure,
    };

    /// Performs what core Admission decides about a new connection: evict an older unauthenticated one, serve
    /// the new one on its own thread, or refuse it.
    void Admit(Socket socket)
    {
        var id = ++lastConnection;
        var remote = socket.RemoteEndPoint as IPEndPoint;
        var source = remote?.Address.ToString() ?? "unknown";
        foreach (var action in Admission.Arrive(id, source))
        {
            switch (action)
            {
                case AdmissionAction.Evict evict:
                    if (incoming.TryGetValue(evict.connection, out var victim))
                        victim.Evict();
                    Admission.Refused(evict.reason, $"{IncomingRefusalModule.describe(IncomingAdmission.Limits, evict.reason)}: {victim?.Remote.ToString() ?? evict.source}");
                    break;
                case AdmissionAction.Refuse refuse:
                    socket.Dispose();
                    Admission.Refused(refuse.reason, $"{IncomingRefusalModule.describe(IncomingAdmission.Limits, refuse.reason)}: {remote}");
                    break;
                case AdmissionAction.Admit:
                    var connection = new IncomingConnection(this, id, new FrameSocket(socket));
                    incoming[id] = connection;
                    var thread = new Thread(() =>
                    {
                        connection.Serve();
                        incoming.TryRemove(id, out _);
                        Admission.Ended(id);
                    }) { IsBackground = true, Name = $"transport {Self} serve" };
                    connection.Thread = thread;
                    thread.Start();
                    break;
            }
        }
    }

    /// A blocking accept is woken by a connection: the accept loop sees `stopping` and ends.
    void WakeAcceptLoop()
    {
        try
        {
            using var wake = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            wake.Connect(ListenEndpoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, ListenEndpoint.Port) : ListenEndpoint);
        }
        catch (SocketException)
        {
            // The listener is gone already: the loop saw it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        stopping.Cancel();
        // First, so that no connection ending from here on is re-dialled or has its peer reported lost.
        foreach (var (node, _) in links)
            RemovePeer(node);
        await sweep.DisposeAsync();
        WakeAcceptLoop();
        acceptLoop.Join(Options.ConnectTimeout);
        listener.Dispose();
        foreach (var (_, connection) in incoming)
            connection.Close();
        var deadline = Environment.TickCount64 + (long)Options.ConnectTimeout.TotalMilliseconds;
        foreach (var (_, connection) in incoming)
            connection.Thread?.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64)));
        Log($"transport: node {Self}: stopped");
    }
}
