using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using SsiHv.Core.Paging;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// This node's RDMA path to one home: a TCP side channel (dialled, hello as for any connection) that set up a
/// reliable-connected queue pair and learnt the home's registered slots and version words, and answers slot
/// lookups (cached: a slot never changes); the queue pair, whose fetches are three fenced RDMA READs (version,
/// page, version: core RdmaRead); the registered staging places they land in; and the thread that polls the
/// completion queue. Any error completion, or a READ past the request timeout, breaks the path: every READ
/// on it fails with PeerUnavailableException, and the transport builds a new path for the next fetch.
/// </summary>
public sealed class RdmaPeerPath : IDisposable
{
    const int PageLength = WireFrame.PageLength;
    /// Per place: the version before and the version after.
    const int VersionsLength = 16;
    const int ReadsPerFetch = 3;

    readonly TransportOptions options;
    readonly IPEndPoint address;
    readonly PeerCounters counters;
    readonly FrameSocket control;
    readonly object controlGate = new();
    readonly CompletionQueueHandle cq;
    readonly QueuePairHandle qp;
    /// Pinned arrays rather than native memory: they cannot be freed while a racing fetch still writes a work
    /// request or the adapter's last READ lands (the GC keeps them while this path is reachable).
    readonly byte[] staging;
    readonly nint stagingAddress;
    readonly MemoryRegionHandle stagingRegion;
    readonly IbvSendWr[] requestArray;
    readonly IbvSge[] elementArray;
    readonly unsafe IbvSendWr* requests;
    readonly unsafe IbvSge* elements;
    readonly RdmaReadEntry[] entries;
    readonly Stack<int> freeEntries;
    readonly SemaphoreSlim places;
    /// Wakes the idle poller when READs are posted.
    readonly SemaphoreSlim wake = new(0);
    readonly ConcurrentDictionary<ulong, long> slots = new();
    readonly Thread poller;
    readonly RdmaRegion pages, versions;
    ulong controlSequence;
    int outstanding;
    string? brokenReason;
    int disposed;

    unsafe RdmaPeerPath(RdmaDevice device, TransportOptions options, int node, IPEndPoint address, PeerCounters counters, FrameSocket control)
    {
        this.options = options;
        this.address = address;
        this.counters = counters;
        this.control = control;
        Node = node;
        // More READs in flight than the responder takes (16) only queue in the adapter; 64 keep it busy.
        var depth = Math.Min(options.MaxInFlightPerPeer, 64);
        entries = new RdmaReadEntry[depth];
        for (var i = 0; i < depth; i++)
            entries[i] = new RdmaReadEntry(i);
        freeEntries = new Stack<int>(Enumerable.Range(0, depth).Reverse());
        places = new SemaphoreSlim(depth, depth);
        requestArray = GC.AllocateArray<IbvSendWr>(depth * ReadsPerFetch, pinned: true);
        elementArray = GC.AllocateArray<IbvSge>(depth * ReadsPerFetch, pinned: true);
        requests = (IbvSendWr*)Marshal.UnsafeAddrOfPinnedArrayElement(requestArray, 0);
        elements = (IbvSge*)Marshal.UnsafeAddrOfPinnedArrayElement(elementArray, 0);
        staging = GC.AllocateArray<byte>(depth * (PageLength + VersionsLength), pinned: true);
        stagingAddress = Marshal.UnsafeAddrOfPinnedArrayElement(staging, 0);
        RdmaEndpoint local;
        Message answer;
        try
        {
            stagingRegion = device.Register(stagingAddress, (ulong)staging.Length, IbvAccess.LocalWrite);
            cq = device.CreateCompletionQueue(depth * ReadsPerFetch);
            (qp, local) = device.CreateQueuePair(cq, depth * ReadsPerFetch, remoteRead: false);
            answer = Request(Message.NewRdmaConnect(local));
            if (answer is not Message.RdmaAccept)
                throw Refused("RdmaConnect", answer);
            device.Connect(qp, local, ((Message.RdmaAccept)answer).Item1);
        }
        catch
        {
            qp?.Dispose();
            cq?.Dispose();
            stagingRegion?.Dispose();
            throw;
        }
        var accept = (Message.RdmaAccept)answer;
        (pages, versions) = (accept.pages, accept.versions);
        poller = new Thread(Poll) { IsBackground = true, Name = $"rdma {options.Self}->{node} poll" };
        poller.Start();
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
        if (!slots.TryGetValue(page, out var slot))
        {
            // A blocking side-channel round trip, once per page: off the caller's thread.
            slot = await Task.Run(() => Locate(page), cancellation);
            if (slot < 0)
            {
                // Never stored when the home answered: its newest copy is the zero page, as FetchPage would say.
                destination.Span[..PageLength].Clear();
                return true;
            }
            slots[page] = slot;
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

    long Locate(ulong page)
    {
        var answer = Request(Message.NewLocatePage(PageNumber.NewPageNumber(page)));
        if (answer is Message.PageLocation location && location.Item1.Value == page)
            return location.slot;
        throw Refused($"LocatePage of page {page}", answer);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> ReadOnceAsync(ulong page, ulong pageOffset, ulong versionOffset, Memory<byte> destination, CancellationToken cancellation)
    {
        var deadline = Environment.TickCount64 + (long)options.RequestTimeout.TotalMilliseconds;
        if (!places.Wait(0) && !await places.WaitAsync(options.RequestTimeout, cancellation))
            throw Unavailable($"{entries.Length} RDMA READs stayed in flight for the whole request timeout ({options.RequestTimeout.TotalSeconds:0.###} s)");
        RdmaReadEntry entry;
        lock (freeEntries)
            entry = entries[freeEntries.Pop()];
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
            Interlocked.Add(ref counters.BytesReceived, PageLength + VersionsLength);
            ReadOnlySpan<byte> versionsRead = staging.AsSpan(entries.Length * PageLength + entry.Index * VersionsLength, VersionsLength);
            if (!RdmaRead.isConsistent(BinaryPrimitives.ReadUInt64LittleEndian(versionsRead), BinaryPrimitives.ReadUInt64LittleEndian(versionsRead[8..])))
                return false;
            PlaceOf(entry.Index).CopyTo(destination.Span);
            return true;
        }
        finally
        {
            if (posted)
                Leave(entry);
            else
                Return(entry); // nobody else holds it
        }
    }

    Span<byte> PlaceOf(int index) => staging.AsSpan(index * PageLength, PageLength);

    void Leave(RdmaReadEntry entry)
    {
        if (entry.Release())
            Return(entry);
    }

    void Return(RdmaReadEntry entry)
    {
        lock (freeEntries)
            freeEntries.Push(entry.Index);
        places.Release();
    }

    /// Version, page (fenced), version (fenced, signalled): each READ starts only after the previous completed.
    unsafe void Post(RdmaReadEntry entry, ulong pageOffset, ulong versionOffset)
    {
        var first = requests + entry.Index * ReadsPerFetch;
        var sge = elements + entry.Index * ReadsPerFetch;
        var versionsPlace = (ulong)stagingAddress + (ulong)entries.Length * PageLength + (ulong)entry.Index * VersionsLength;
        var lkey = stagingRegion.LocalKey;
        sge[0] = new IbvSge { Address = versionsPlace, Length = 8, LocalKey = lkey };
        sge[1] = new IbvSge { Address = (ulong)stagingAddress + (ulong)entry.Index * PageLength, Length = PageLength, LocalKey = lkey };
        sge[2] = new IbvSge { Address = versionsPlace + 8, Length = 8, LocalKey = lkey };
        var remote = (Address: versions.Address + versionOffset, Key: versions.Key);
        Fill(first, entry.Index, &sge[0], remote.Address, remote.Key, IbvSendFlags.None, first + 1);
        Fill(first + 1, entry.Index, &sge[1], pages.Address + pageOffset, pages.Key, IbvSendFlags.Fence, first + 2);
        Fill(first + 2, entry.Index, &sge[2], remote.Address, remote.Key, IbvSendFlags.Fence | IbvSendFlags.Signaled, null);
        Interlocked.Increment(ref outstanding);
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
            Interlocked.Decrement(ref outstanding);
            throw Unavailable("the RDMA path was closed");
        }
        finally
        {
            if (held)
                qp.DangerousRelease();
        }
        if (error != 0)
        {
            Interlocked.Decrement(ref outstanding);
            Break($"ibv_post_send failed: errno {error}");
            throw Unavailable($"ibv_post_send failed: errno {error}");
        }
        Interlocked.Increment(ref counters.RequestsSent);
        if (Volatile.Read(ref outstanding) == 1)
            wake.Release();
    }

    static unsafe void Fill(IbvSendWr* wr, int index, IbvSge* sge, ulong remoteAddress, uint rkey, IbvSendFlags flags, IbvSendWr* next)
    {
        *wr = default;
        wr->WorkRequestId = (ulong)index;
        wr->Next = next;
        wr->ScatterGatherList = sge;
        wr->ScatterGatherCount = 1;
        wr->Opcode = IbvWrOpcode.RdmaRead;
        wr->SendFlags = flags;
        wr->RemoteAddress = remoteAddress;
        wr->RemoteKey = rkey;
    }

    /// Busy-polls while READs are outstanding (a completion arrives within microseconds), sleeps on `wake`
    /// otherwise; checks deadlines about every millisecond.
    unsafe void Poll()
    {
        var completions = stackalloc IbvWc[16];
        var nextDeadlineCheck = Environment.TickCount64;
        var held = false;
        cq.DangerousAddRef(ref held); // destroyed only after this loop ends
        try
        {
            PollUntilDisposed(completions, ref nextDeadlineCheck);
        }
        finally
        {
            cq.DangerousRelease();
        }
    }

    unsafe void PollUntilDisposed(IbvWc* completions, ref long nextDeadlineCheck)
    {
        while (Volatile.Read(ref disposed) == 0)
        {
            if (Volatile.Read(ref outstanding) == 0)
            {
                wake.Wait(100);
                continue;
            }
            var count = VerbsDataPath.PollCq(cq.DangerousGetHandle(), 16, completions);
            if (count < 0)
            {
                Break($"ibv_poll_cq failed: {count}");
                return;
            }
            for (var i = 0; i < count; i++)
            {
                var wc = completions[i];
                if (wc.WorkRequestId >= (ulong)entries.Length)
                    continue;
                if (wc.Status != IbvWcStatus.Success)
                    Break($"RDMA READ completion status {(int)wc.Status} (vendor error 0x{wc.VendorError:X})");
                var entry = entries[wc.WorkRequestId];
                if (entry.TryComplete(wc.Status))
                {
                    Interlocked.Decrement(ref outstanding);
                    Leave(entry);
                }
            }
            if (count == 0)
            {
                var now = Environment.TickCount64;
                if (now >= nextDeadlineCheck)
                {
                    nextDeadlineCheck = now + 1;
                    foreach (var entry in entries)
                        if (entry.IsArmed && entry.DeadlineTicks <= now)
                            Break($"no RDMA READ completion within the request timeout ({options.RequestTimeout.TotalSeconds:0.###} s)");
                }
                Thread.SpinWait(20);
            }
        }
    }

    /// The first reason stands. The queue pair goes to the error state, so the adapter flushes every READ still
    /// posted with an error completion: their fetches fail, their places come back.
    void Break(string reason)
    {
        if (Interlocked.CompareExchange(ref brokenReason, reason, null) is not null)
            return;
        options.Log($"transport: node {options.Self}: RDMA path to node {Node} at {address} broke: {reason}");
        try
        {
            qp.Modify(new IbvQpAttr { QpState = IbvQpState.Error }, IbvQpAttrMask.State);
        }
        catch (RdmaException e)
        {
            options.Log($"transport: node {options.Self}: {e.Message}");
        }
    }

    Message Request(Message request)
    {
        lock (controlGate)
        {
            var id = ++controlSequence;
            try
            {
                control.Send(WireFrame.Encode(id, request));
                control.ReceiveTimeout = options.RequestTimeout;
                while (true)
                {
                    var frame = control.Receive();
                    if (frame.IsClosed || frame.Malformed is not null)
                    {
                        Break(frame.IsClosed ? "the side channel was closed by the peer" : $"malformed frame on the side channel: {frame.Malformed}");
                        throw Unavailable(brokenReason!);
                    }
                    var decoded = control.Decode(frame);
                    control.Consume(frame);
                    if (decoded is Frame.DecodeResult.Decoded { Item1: var envelope } && envelope.RequestId == id)
                        return envelope.Message;
                }
            }
            catch (SocketException e)
            {
                var reason = e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock
                    ? $"no answer to {MessageModule.name(request)} within the request timeout ({options.RequestTimeout.TotalSeconds:0.###} s)"
                    : $"the side channel broke: {e.Message}";
                Break(reason);
                throw Unavailable(reason, e);
            }
        }
    }

    Exception Refused(string what, Message answer) => answer is Message.ErrorReply error
        ? new PeerRefusedException(Node, $"node {Node} at {address} refused {what}: {ErrorTextModule.value(error.Item2)}")
        : Unavailable($"answered {what} with {MessageModule.name(answer)}");

    PeerUnavailableException Unavailable(string what, Exception? inner = null) => AuthenticatedDial.Unavailable(Node, address, what, inner);

    /// Fails what is still posted, then destroys the queue pair before the memory its READs land in.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        Break("the path was closed");
        wake.Release();
        poller?.Join(options.RequestTimeout);
        foreach (var entry in entries)
            entry.TryComplete(IbvWcStatus.WorkRequestFlushError);
        control.Dispose();
        qp.Dispose();
        cq.Dispose();
        stagingRegion.Dispose();
    }
}
