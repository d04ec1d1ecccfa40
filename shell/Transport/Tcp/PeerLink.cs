using System.Net;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// Everything this node keeps about one peer it sends requests to: its address, the connection it dialled (one at
/// a time, dialled once however many callers want it), the in-flight places (back-pressure) and their reusable
/// request slots, and the reconnect window after a loss.
/// </summary>
public sealed class PeerLink
{
    /// Request ids carry the slot in their low 16 bits and a per-peer sequence number above (never 0).
    const int SlotBits = 16;

    readonly TcpNodeTransport owner;
    readonly object gate = new();
    readonly PendingRequest[] slots;
    readonly Stack<PendingRequest> freeSlots;
    TcpPeerConnection? current;
    Task<TcpPeerConnection>? dialing;
    long sequence;
    bool removed;
    bool reconnecting;
    bool lostRaised;

    public PeerLink(TcpNodeTransport owner, int node, IPEndPoint address, PeerCounters counters)
    {
        this.owner = owner;
        Node = node;
        Address = address;
        Counters = counters;
        var limit = owner.Options.MaxInFlightPerPeer;
        slots = new PendingRequest[limit];
        for (var i = 0; i < limit; i++)
            slots[i] = new PendingRequest(i);
        freeSlots = new Stack<PendingRequest>(slots.Reverse());
        InFlight = new SemaphoreSlim(limit, limit);
    }

    public int Node { get; }
    public IPEndPoint Address { get; }
    public string AddressText => Address.ToString();
    public PeerCounters Counters { get; }
    /// Callers hold one place per request in flight; at most MaxInFlightPerPeer places exist.
    public SemaphoreSlim InFlight { get; }
    public TcpPeerConnection? Current => Volatile.Read(ref current);
    public IReadOnlyList<PendingRequest> Slots => slots;

    public PeerUnavailableException Unavailable(string what, Exception? inner = null) =>
        AuthenticatedDial.Unavailable(Node, Address, what, inner);

    /// Only with a place in <see cref="InFlight"/>, so a free slot always exists.
    public PendingRequest RentSlot()
    {
        lock (freeSlots)
            return freeSlots.Pop();
    }

    public void ReturnSlot(PendingRequest slot)
    {
        lock (freeSlots)
            freeSlots.Push(slot);
    }

    public ulong NextRequestId(PendingRequest slot) => ((ulong)Interlocked.Increment(ref sequence) << SlotBits) | (uint)slot.Slot;

    public PendingRequest? SlotOf(ulong requestId)
    {
        var index = (int)(requestId & ((1UL << SlotBits) - 1));
        return index < slots.Length ? slots[index] : null;
    }

    /// The live connection, or one dialled now (bounded by the connect timeout; one dial shared by all callers).
    public ValueTask<TcpPeerConnection> GetConnectionAsync(CancellationToken cancellation)
    {
        var connection = Volatile.Read(ref current);
        return connection is { IsClosed: false } ? new(connection) : new(DialSharedAsync(cancellation));
    }

    async Task<TcpPeerConnection> DialSharedAsync(CancellationToken cancellation)
    {
        Task<TcpPeerConnection> dial;
        lock (gate)
        {
            if (removed)
                throw Unavailable("the peer was removed from this transport");
            if (current is { IsClosed: false } connection)
                return connection;
            // A finished dial whose callers all gave up before it ended is stale: dial again.
            if (dialing is { IsCompleted: true })
                dialing = null;
            dial = dialing ??= DialAsync();
        }
        try
        {
            return await dial.WaitAsync(cancellation);
        }
        finally
        {
            if (dial.IsCompleted)
                lock (gate)
                    if (dialing == dial)
                        dialing = null;
        }
    }

    /// The dial blocks (connect and hello on a blocking socket, FrameSocket says why), so it gets its own thread.
    Task<TcpPeerConnection> DialAsync() =>
        Task.Factory.StartNew(Dial, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    TcpPeerConnection Dial()
    {
        var options = owner.Options;
        var frames = AuthenticatedDial.Connect(Address, Node, options);
        frames.Attribute(Counters);
        frames.ReceiveTimeout = TimeSpan.Zero; // silence is the keep-alive's business
        frames.SendTimeout = options.RequestTimeout;
        var connection = new TcpPeerConnection(this, frames);
        lock (gate)
        {
            if (removed || owner.Stopping.IsCancellationRequested)
            {
                frames.Dispose();
                throw Unavailable("the peer was removed from this transport");
            }
            current = connection;
            lostRaised = false;
        }
        connection.Start($"transport {owner.Self}->{Node}", options.ReplyThreadCpu, owner.Log);
        return connection;
    }

    /// Called once per connection when it ends: fails what waited on it and, unless the end was ours, re-dials
    /// in the background for the reconnect window.
    public void OnConnectionClosed(TcpPeerConnection connection, string reason)
    {
        bool reconnect;
        lock (gate)
        {
            var wasCurrent = current == connection;
            if (wasCurrent)
                current = null;
            reconnect = wasCurrent && !removed && !reconnecting && !owner.Stopping.IsCancellationRequested;
            if (reconnect)
                reconnecting = true;
        }
        FailPending(connection, reason);
        if (reconnect)
        {
            owner.Log($"transport: node {owner.Self}: connection to node {Node} at {AddressText} lost ({reason}); re-dialling for up to {owner.Options.ReconnectWindow.TotalSeconds:0.###} s");
            _ = Task.Run(() => ReconnectAsync(reason));
        }
    }

    void FailPending(TcpPeerConnection connection, string reason)
    {
        foreach (var slot in slots)
        {
            var id = slot.PendingId;
            if (id != 0 && slot.Connection == connection && slot.TryClaim(id))
                slot.Fail(Unavailable($"the connection was lost ({reason})"));
        }
    }

    async Task ReconnectAsync(string reason)
    {
        var deadline = Environment.TickCount64 + (long)owner.Options.ReconnectWindow.TotalMilliseconds;
        var lastError = "";
        try
        {
            while (true)
            {
                try
                {
                    await GetConnectionAsync(owner.Stopping);
                    owner.Log($"transport: node {owner.Self}: connection to node {Node} at {AddressText} re-established");
                    return;
                }
                catch (PeerUnavailableException e)
                {
                    lastError = e.Message;
                }
                var remaining = deadline - Environment.TickCount64;
                if (remaining <= 0)
                {
                    RaiseLost($"the connection was lost ({reason}) and could not be re-established within {owner.Options.ReconnectWindow.TotalSeconds:0.###} s; last attempt: {lastError}");
                    return;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(remaining, 200)), owner.Stopping);
            }
        }
        catch (OperationCanceledException)
        {
            // The transport is being disposed: nobody is lost, we are leaving.
        }
        finally
        {
            lock (gate)
                reconnecting = false;
        }
    }

    /// The keep-alive's verdict: the peer is connected but silent. Closed, and reported lost now.
    public void OnSilent(TcpPeerConnection connection, string reason)
    {
        lock (gate)
            reconnecting = true; // the loss is reported here, not after a reconnect window
        try
        {
            connection.Close(reason);
        }
        finally
        {
            lock (gate)
                reconnecting = false;
        }
        RaiseLost(reason);
    }

    void RaiseLost(string reason)
    {
        lock (gate)
        {
            if (lostRaised || removed)
                return;
            lostRaised = true;
        }
        owner.Log($"transport: node {owner.Self}: node {Node} at {AddressText} is lost: {reason}");
        owner.RaisePeerLost(Node, reason);
    }

    /// RemovePeer and Dispose: no reconnect, no PeerLost; pending requests fail.
    public void Remove(string reason)
    {
        TcpPeerConnection? connection;
        lock (gate)
        {
            removed = true;
            connection = current;
        }
        connection?.Close(reason);
    }
}
