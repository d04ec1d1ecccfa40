using System.Net;
using Microsoft.FSharp.Collections;
using SsiHv.Core.Transport;
using Liveness = SsiHv.Core.Transport.PeerLiveness<SsiHv.Shell.Transport.Tcp.TcpPeerConnection>;
using LivenessAction = SsiHv.Core.Transport.LivenessAction<SsiHv.Shell.Transport.Tcp.TcpPeerConnection>;
using LivenessEvent = SsiHv.Core.Transport.LivenessEvent<SsiHv.Shell.Transport.Tcp.TcpPeerConnection>;
using LivenessPhase = SsiHv.Core.Transport.LivenessPhase<SsiHv.Shell.Transport.Tcp.TcpPeerConnection>;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// Everything this node keeps about one peer it sends requests to: its address, the connection it dialled (one at
/// a time, dialled once however many callers want it), the in-flight places (back-pressure) and their reusable
/// request slots. Whether the peer is reachable (connected, re-dialled, lost, removed) is decided by core
/// PeerLiveness: this class feeds it what happens to dials and connections and performs what it returns.
/// </summary>
public sealed class PeerLink
{
    /// Request ids carry the slot in their low 16 bits and a per-peer sequence number above (never 0).
    const int SlotBits = 16;

    readonly TcpNodeTransport owner;
    readonly object gate = new();
    readonly PendingRequest[] slots;
    readonly Stack<PendingRequest> freeSlots;
    /// Replaced whole under `gate`; read without it only for the current connection.
    Liveness liveness;
    Task<TcpPeerConnection>? dialing;
    long sequence;

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
        liveness = PeerLiveness.create<TcpPeerConnection>((long)owner.Options.ReconnectWindow.TotalMilliseconds);
    }

    public int Node { get; }
    public IPEndPoint Address { get; }
    public string AddressText => Address.ToString();
    public PeerCounters Counters { get; }
    /// Callers hold one place per request in flight; at most MaxInFlightPerPeer places exist.
    public SemaphoreSlim InFlight { get; }
    public TcpPeerConnection? Current => Volatile.Read(ref liveness).Phase is LivenessPhase.Connected connected ? connected.connection : null;
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
        var connection = Current;
        return connection is { IsClosed: false } ? new(connection) : new(DialSharedAsync(cancellation));
    }

    async Task<TcpPeerConnection> DialSharedAsync(CancellationToken cancellation)
    {
        Task<TcpPeerConnection> dial;
        lock (gate)
        {
            if (PeerLiveness.dialRefusal(liveness) is { } refusal)
                throw Unavailable(refusal.Value);
            if (Current is { IsClosed: false } connection)
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
        Perform(Step(LivenessEvent.NewDialled(connection)));
        connection.Start($"transport {owner.Self}->{Node}", options.ReplyThreadCpu, owner.Log);
        return connection;
    }

    /// Called once per connection when it ends: fails what waited on it, then re-dials if the liveness says so.
    public void OnConnectionClosed(TcpPeerConnection connection, string reason)
    {
        var actions = Step(LivenessEvent.NewConnectionClosed(connection, reason, Environment.TickCount64));
        FailPending(connection, reason);
        Perform(actions);
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

    /// The keep-alive's verdict: the peer is connected but silent.
    public void OnSilent(TcpPeerConnection connection, string reason) =>
        Perform(Step(LivenessEvent.NewSilent(connection, reason)));

    /// RemovePeer and Dispose: no reconnect, no PeerLost; pending requests fail.
    public void Remove(string reason) => Perform(Step(LivenessEvent.NewRemove(reason)));

    FSharpList<LivenessAction> Step(LivenessEvent livenessEvent)
    {
        lock (gate)
        {
            var (next, actions) = PeerLiveness.step(liveness, livenessEvent);
            Volatile.Write(ref liveness, next);
            return actions;
        }
    }

    /// Outside `gate`: closing a connection reports its end back here, and PeerLost handlers are the node host's.
    void Perform(FSharpList<LivenessAction> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case LivenessAction.LogReconnecting reconnecting:
                    owner.Log($"transport: node {owner.Self}: connection to node {Node} at {AddressText} lost ({reconnecting.reason}); re-dialling for up to {owner.Options.ReconnectWindow.TotalSeconds:0.###} s");
                    break;
                case { IsLogReestablished: true }:
                    owner.Log($"transport: node {owner.Self}: connection to node {Node} at {AddressText} re-established");
                    break;
                case LivenessAction.Redial redial:
                    _ = RedialAsync(redial.broken);
                    break;
                case LivenessAction.RedialAfter wait:
                    _ = RedialAfterAsync(wait.broken, wait.delayMs);
                    break;
                case LivenessAction.CloseConnection close:
                    close.connection.Close(close.reason);
                    break;
                case LivenessAction.RefuseConnection refuse:
                    refuse.connection.Socket.Dispose();
                    throw Unavailable(refuse.reason);
                case LivenessAction.RaiseLost lost:
                    owner.Log($"transport: node {owner.Self}: node {Node} at {AddressText} is lost: {lost.reason}");
                    owner.RaisePeerLost(Node, lost.reason);
                    break;
            }
        }
    }

    /// The dial requests share; a success reports itself as Dialled, so only a failure is news here.
    async Task RedialAsync(TcpPeerConnection broken)
    {
        try
        {
            await GetConnectionAsync(owner.Stopping);
        }
        catch (PeerUnavailableException e)
        {
            Perform(Step(LivenessEvent.NewRedialFailed(broken, e.Message, Environment.TickCount64)));
        }
        catch (OperationCanceledException)
        {
            // The transport is stopping and removes its peers: nobody is lost, we are leaving.
        }
    }

    async Task RedialAfterAsync(TcpPeerConnection broken, long delayMs)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(delayMs), owner.Stopping);
        }
        catch (OperationCanceledException)
        {
            return; // as in RedialAsync
        }
        Perform(Step(LivenessEvent.NewRedialDue(broken)));
    }
}
