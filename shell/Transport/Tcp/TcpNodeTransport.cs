using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

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
    readonly ConcurrentDictionary<IncomingConnection, Task> incoming = new();
    readonly Task acceptLoop;
    readonly Timer sweep;
    readonly long requestTimeoutMs;
    int sweeping;
    int disposed;

    public TcpNodeTransport(TransportOptions options)
    {
        options.Validate();
        Options = options;
        requestTimeoutMs = (long)options.RequestTimeout.TotalMilliseconds;
        listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // A restarted node host must get its port back while the old connections sit in TIME_WAIT.
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(options.Listen);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new TransportException($"transport: cannot listen on {options.Listen}: {e.Message}", e);
        }
        ListenEndpoint = (IPEndPoint)listener.LocalEndPoint!;
        acceptLoop = Task.Run(AcceptLoopAsync);
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(
            Math.Min(options.RequestTimeout.TotalMilliseconds, options.PingInterval.TotalMilliseconds) / 10, 5, 100));
        sweep = new Timer(static state => ((TcpNodeTransport)state!).Sweep(), this, tick, tick);
        Log($"transport: node {Self}: TCP, listening on {ListenEndpoint}");
    }

    public TransportOptions Options { get; }
    public int Self => Options.Self;
    public IPEndPoint ListenEndpoint { get; }
    public CancellationToken Stopping => stopping.Token;
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

    PeerLink LinkOf(int node) =>
        links.TryGetValue(node, out var link)
            ? link
            : throw new PeerUnavailableException(node, $"node {node}: no transport address (SetPeer was not called, or RemovePeer removed it)");

    async ValueTask RequestAsync(PeerLink link, byte type, ulong page, Memory<byte> destination, ReadOnlyMemory<byte> source, CancellationToken cancellation)
    {
        var deadline = Environment.TickCount64 + requestTimeoutMs;
        if (!link.InFlight.Wait(0) && !await link.InFlight.WaitAsync(Options.RequestTimeout, cancellation))
            throw link.Unavailable($"{Options.MaxInFlightPerPeer} requests stayed in flight for the whole request timeout ({Options.RequestTimeout.TotalSeconds:0.###} s)");
        PendingRequest? slot = null;
        byte[]? frame = null;
        CancellationTokenRegistration cancelled = default;
        try
        {
            var connection = await link.GetConnectionAsync(cancellation);
            slot = link.RentSlot();
            var id = link.NextRequestId(slot);
            int length;
            byte reply;
            if (type == WireFrame.FetchPage)
            {
                frame = ArrayPool<byte>.Shared.Rent(WireFrame.PageNumberFrameLength);
                length = WireFrame.WritePageNumberFrame(frame, WireFrame.FetchPage, id, page);
                reply = WireFrame.PageData;
            }
            else
            {
                frame = ArrayPool<byte>.Shared.Rent(WireFrame.PageFrameLength);
                source.Span.CopyTo(WireFrame.WritePageFrameHeader(frame, WireFrame.StorePage, id, page));
                length = WireFrame.PageFrameLength;
                reply = WireFrame.Stored;
            }
            slot.Arm(id, reply, page, destination, deadline, connection);
            if (connection.IsClosed && slot.TryClaim(id))
                slot.Fail(link.Unavailable($"the connection was lost ({connection.LossReason})"));
            if (cancellation.CanBeCanceled)
                cancelled = cancellation.UnsafeRegister(static state => Cancel((PendingRequest)state!), slot);
            try
            {
                await connection.Socket.SendAsync(frame.AsMemory(0, length), Options.RequestTimeout, cancellation);
                Interlocked.Increment(ref link.Counters.RequestsSent);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException)
            {
                if (e is SocketException or TimeoutException)
                    connection.Close($"sending failed: {e.Message}");
                if (slot.TryClaim(id))
                    slot.Fail(e is OperationCanceledException && cancellation.IsCancellationRequested
                        ? new OperationCanceledException(cancellation)
                        : link.Unavailable($"sending {TcpPeerConnection.TypeName(type)} of page {page} failed: {e.Message}", e));
            }
            await new ValueTask(slot, slot.Version);
        }
        finally
        {
            cancelled.Dispose();
            if (frame is not null)
                ArrayPool<byte>.Shared.Return(frame);
            if (slot is not null)
                link.ReturnSlot(slot);
            link.InFlight.Release();
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
                            $"no answer to {(slot.ExpectedReply == WireFrame.PageData ? "FetchPage" : "StorePage")} of page {slot.Page} within the request timeout ({Options.RequestTimeout.TotalSeconds:0.###} s)"));
                }
                KeepAlive(link, now);
            }
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
            _ = PingAsync(connection);
        }
    }

    async Task PingAsync(TcpPeerConnection connection)
    {
        try
        {
            await connection.Socket.SendAsync(TcpPeerConnection.PingFrame, Options.PingTimeout, connection.Socket.Closing);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException)
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

    async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // e.g. EMFILE or a connection reset before accept: this one is lost, the listener goes on.
                Log($"transport: node {Self}: accept failed: {e.Message}");
                await Task.Delay(10);
                continue;
            }
            var connection = new IncomingConnection(this, new FrameSocket(socket));
            var serving = Task.Run(connection.ServeAsync);
            incoming[connection] = serving;
            _ = serving.ContinueWith(static (_, state) =>
            {
                var (map, key) = ((ConcurrentDictionary<IncomingConnection, Task>, IncomingConnection))state!;
                map.TryRemove(key, out var _);
            }, (incoming, connection), TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        stopping.Cancel();
        await sweep.DisposeAsync();
        listener.Dispose();
        foreach (var (node, _) in links)
            RemovePeer(node);
        foreach (var (connection, _) in incoming)
            connection.Close();
        var stopped = Task.WhenAll([acceptLoop, .. incoming.Values]);
        await stopped.WaitAsync(Options.ConnectTimeout + Options.RequestTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Log($"transport: node {Self}: stopped");
    }
}
