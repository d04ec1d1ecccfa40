using System.Net;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// This node's RDMA path to one home: the TCP side channel that set up a reliable-connected queue pair and
/// learnt the home's registered slots and version words (<see cref="RdmaSideChannel"/>); the queue pair, whose
/// fetches are three fenced RDMA READs (version, page, version: core RdmaRead) into registered staging places
/// (<see cref="RdmaReadStaging"/>); and the thread that polls the completion queue
/// (<see cref="RdmaCompletionPoller"/>). Any error completion, or a READ past the request timeout, breaks the
/// path: every READ on it fails with PeerUnavailableException, and the transport builds a new path for the next
/// fetch.
/// </summary>
public sealed class RdmaPeerPath : IDisposable
{
    const int PageLength = RdmaReadStaging.PageLength;

    readonly TransportOptions options;
    readonly IPEndPoint address;
    readonly PeerCounters counters;
    readonly RdmaSideChannel sideChannel;
    readonly CompletionQueueHandle cq;
    readonly QueuePairHandle qp;
    readonly RdmaReadStaging staging;
    readonly RdmaCompletionPoller poller;
    readonly RdmaRegion pages, versions;
    string? brokenReason;
    int disposed;

    RdmaPeerPath(RdmaDevice device, TransportOptions options, int node, IPEndPoint address, PeerCounters counters, FrameSocket control)
    {
        this.options = options;
        this.address = address;
        this.counters = counters;
        Node = node;
        sideChannel = new RdmaSideChannel(control, options, node, address, Break);
        RdmaEndpoint local;
        Message.RdmaAccept accept;
        try
        {
            // More READs in flight than the responder takes (16) only queue in the adapter; 64 keep it busy.
            staging = new RdmaReadStaging(device, Math.Min(options.MaxInFlightPerPeer, 64));
            cq = device.CreateCompletionQueue(staging.MaxWorkRequests);
            (qp, local) = device.CreateQueuePair(cq, staging.MaxWorkRequests, remoteRead: false);
            accept = sideChannel.Connect(local);
            device.Connect(qp, local, accept.Item1);
        }
        catch
        {
            qp?.Dispose();
            cq?.Dispose();
            staging?.Dispose();
            throw;
        }
        (pages, versions) = (accept.pages, accept.versions);
        poller = new RdmaCompletionPoller(cq, staging, options.RequestTimeout, reason => Break(reason), $"rdma {options.Self}->{node} poll");
        options.Log($"transport: node {options.Self}: RDMA path to node {node} at {address} ready ({device.Name}, QP {local.QueuePair} to QP {accept.Item1.QueuePair}, {pages.Length / PageLength} slots)");
    }

    public int Node { get; }
    public bool IsBroken => Volatile.Read(ref brokenReason) is not null;

    /// Dials the side channel, runs the hello and connects a queue pair with the home. Throws
    /// PeerUnavailableException (unreachable), PeerRefusedException (the home cannot serve RDMA: no registered
    /// memory, no device, its queue pair failed) or RdmaException (ours failed).
    public static RdmaPeerPath Open(RdmaDevice device, TransportOptions options, int node, IPEndPoint address, PeerCounters counters)
    {
        var control = AuthenticatedDial.Connect(address, node, options);
        control.Attribute(counters);
        control.SendTimeout = options.RequestTimeout;
        try
        {
            return new RdmaPeerPath(device, options, node, address, counters, control);
        }
        catch
        {
            control.Dispose();
            throw;
        }
    }

    /// Reads the page with fenced RDMA READs until a read no store overlapped; false when every attempt met a
    /// store (the caller fetches over TCP, where the home copies under its lock).
    public async ValueTask<bool> TryFetchAsync(ulong page, Memory<byte> destination, CancellationToken cancellation)
    {
        if (!sideChannel.TryCachedSlot(page, out var slot))
        {
            // A blocking side-channel round trip, once per page: off the caller's thread.
            slot = await Task.Run(() => sideChannel.Locate(page), cancellation);
            if (slot < 0)
            {
                // Never stored when the home answered: its newest copy is the zero page, as FetchPage would say.
                destination.Span[..PageLength].Clear();
                return true;
            }
        }
        var located = RdmaRead.locate(slot, pages.Length, versions.Length);
        if (located.IsError)
            throw new PeerRefusedException(Node, $"node {Node} at {address} gave page {page} {located.ErrorValue}");
        var (pageOffset, versionOffset) = located.ResultValue;
        for (var attempt = 0; attempt < RdmaRead.maxAttempts; attempt++)
            if (await ReadOnceAsync(page, pageOffset, versionOffset, destination, cancellation))
                return true;
        return false;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> ReadOnceAsync(ulong page, ulong pageOffset, ulong versionOffset, Memory<byte> destination, CancellationToken cancellation)
    {
        var deadline = Environment.TickCount64 + (long)options.RequestTimeout.TotalMilliseconds;
        if (!await staging.WaitForPlaceAsync(options.RequestTimeout, cancellation))
            throw Unavailable($"{staging.Entries.Length} RDMA READs stayed in flight for the whole request timeout ({options.RequestTimeout.TotalSeconds:0.###} s)");
        var entry = staging.Take();
        var posted = false;
        try
        {
            if (Volatile.Read(ref brokenReason) is { } broken)
                throw Unavailable($"the RDMA path broke ({broken})");
            entry.Arm(deadline);
            try
            {
                Post(entry, pageOffset, versionOffset);
            }
            catch
            {
                entry.TryComplete(IbvWcStatus.WorkRequestFlushError); // not posted: no completion will come
                throw;
            }
            posted = true;
            var completed = new ValueTask(entry, entry.Version);
            if (cancellation.CanBeCanceled)
                // On cancellation the fetch lets go; the poller returns the place once the adapter is done with it.
                await completed.AsTask().WaitAsync(cancellation);
            else
                await completed;
            if (entry.Status != IbvWcStatus.Success)
                throw Unavailable($"RDMA READ of page {page} failed: {Volatile.Read(ref brokenReason) ?? $"completion status {(int)entry.Status}"}");
            Interlocked.Add(ref counters.BytesReceived, PageLength + RdmaReadStaging.VersionsLength);
            var (before, after) = staging.VersionsOf(entry);
            if (!RdmaRead.isConsistent(before, after))
                return false;
            staging.PageOf(entry).CopyTo(destination.Span);
            return true;
        }
        finally
        {
            if (posted)
                staging.Leave(entry);
            else
                staging.Return(entry); // nobody else holds it
        }
    }

    unsafe void Post(RdmaReadEntry entry, ulong pageOffset, ulong versionOffset)
    {
        var first = staging.Describe(entry, pages, pageOffset, versions, versionOffset);
        poller.Expect();
        IbvSendWr* bad;
        int error;
        var held = false;
        try
        {
            // A reference on the queue pair for the call: Dispose cannot destroy it under a post.
            qp.DangerousAddRef(ref held);
            error = VerbsDataPath.PostSend(qp.DangerousGetHandle(), first, &bad);
        }
        catch (ObjectDisposedException)
        {
            poller.Unexpect();
            throw Unavailable("the RDMA path was closed");
        }
        finally
        {
            if (held)
                qp.DangerousRelease();
        }
        if (error != 0)
        {
            poller.Unexpect();
            Break($"ibv_post_send failed: errno {error}");
            throw Unavailable($"ibv_post_send failed: errno {error}");
        }
        Interlocked.Increment(ref counters.RequestsSent);
        poller.Posted();
    }

    /// The first reason stands, and is returned. The queue pair goes to the error state, so the adapter flushes
    /// every READ still posted with an error completion: their fetches fail, their places come back.
    string Break(string reason)
    {
        if (Interlocked.CompareExchange(ref brokenReason, reason, null) is { } standing)
            return standing;
        options.Log($"transport: node {options.Self}: RDMA path to node {Node} at {address} broke: {reason}");
        try
        {
            qp.Modify(new IbvQpAttr { QpState = IbvQpState.Error }, IbvQpAttrMask.State);
        }
        catch (RdmaException e)
        {
            options.Log($"transport: node {options.Self}: {e.Message}");
        }
        return reason;
    }

    PeerUnavailableException Unavailable(string what, Exception? inner = null) => AuthenticatedDial.Unavailable(Node, address, what, inner);

    /// Fails what is still posted, then destroys the queue pair before the memory its READs land in.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        poller.Stop();
        Break("the path was closed");
        poller.Join(options.RequestTimeout);
        foreach (var entry in staging.Entries)
            entry.TryComplete(IbvWcStatus.WorkRequestFlushError);
        sideChannel.Dispose();
        qp.Dispose();
        cq.Dispose();
        staging.Dispose();
    }
}
