using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;
using SsiHv.Interop.Memory;
using SsiHv.Interop.Userfault;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// The page-fault pipeline (docs/pager.md) for one node host. One pager thread polls the userfaultfd (and an
/// eventfd for events queued by other threads), turns each fault message into a <see cref="CorePager.PagerEvent"/>,
/// asks the core's <see cref="CorePager.step"/> what to do and performs the actions (UFFDIO_COPY,
/// UFFDIO_WRITEPROTECT, UFFDIO_WAKE, MADV_DONTNEED, the page store) in order. When the page store answers at
/// once (a local store), Fetch, CopyOut and MovePage are completed (FetchDone / WriteBackDone / MovePageDone fed
/// to `step`) before the next message is read; when it answers later (a home on another node), the thread that
/// completes it (the transport's receive thread) steps the completion itself if no other step is running, else
/// posts it to the event channel; the transfer's buffer stays owned until then. A failed transfer is
/// fatal: the pager reports <see cref="Failed"/> and stops serving (it never guesses a page's bytes). An install
/// or unprotect directly followed by the wake of its page is one waking ioctl. docs/pager.md says why each
/// action is safe; this class only performs them.
/// </summary>
public sealed class UserfaultPager : IDisposable
{
    const ulong PageSize = 4096;
    const int ReadBatch = 64;
    const int FaultClockSlots = 1 << 14;
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    readonly GuestMemory memory;
    /// The registered (node) RAM regions, as an array so that address translation allocates nothing.
    readonly PagedRegion[] paged;

    readonly record struct PagedRegion(nint Host, ulong Guest, ulong Length);
    readonly IPageStore store;
    readonly UserfaultFd uffd;
    /// Events from other threads (eviction and home-move requests, asynchronous store completions): the channel
    /// stage of the pipeline, drained by the pager thread, which the producer wakes through the userfaultfd
    /// reader's interrupt.
    readonly Channel<CorePager.PagerEvent> requests =
        Channel.CreateUnbounded<CorePager.PagerEvent>(new UnboundedChannelOptions { SingleReader = true });
    /// Buffers of fetches in flight or arrived (until Install or DiscardFetched), of write-backs and of home moves in flight, by
    /// page (the core has at most one transfer per page in flight). Touched under the step lock only.
    readonly Dictionary<PageNumber, byte[]> fetched = [];
    readonly Dictionary<PageNumber, byte[]> outgoing = [];
    readonly Dictionary<PageNumber, byte[]> moving = [];
    /// Callers of MoveHomeAsync, by leaving node, completed at HomeMoved.
    readonly ConcurrentDictionary<int, TaskCompletionSource> homeMoves = new();
    /// Why the pager stopped serving (a page store failed); set once, by whichever thread saw the failure.
    string? failure;
    bool failureReported;
    /// Fault-read timestamps for the latency metric, indexed by fault id modulo the ring (a fault still waiting
    /// after 16,384 newer ones would be timed from the wrong start; only the metric would be off).
    readonly long[] faultStarted = new long[FaultClockSlots];
    /// Completions of synchronous (local-store) transfers, fed to `step` right after the current step.
    readonly Queue<CorePager.PagerEvent> completions = new();
    readonly byte[] zeroPage = GC.AllocateArray<byte>((int)PageSize, pinned: true);
    readonly Stack<byte[]> pageBuffers = new();
    readonly Action<string> log;
    /// Held by whichever thread steps the core and performs actions: the pager thread, or a thread completing a
    /// transfer inline. Everything below is touched only under it.
    readonly object stepLock = new();
    /// True while a step runs: a transfer completing on the stepping thread itself is posted, never nested.
    bool stepping;
    /// Set by Stop under the lock: no completion is stepped after it (the descriptor may be closed next).
    bool stopped;
    CorePager.PagerState state;
    Thread? thread;
    ulong faultsRead;

    public PagerMetrics Metrics { get; } = new();

    /// The CPU the pager thread pins itself to when it starts, or null to leave it to the scheduler. A pager
    /// and a vCPU that share a CPU trade it on every fault; `ssihv bench fault --pin` uses this.
    public int? ThreadCpu { get; init; }

    /// Raised once (on the pager thread) when a page's home failed a transfer: the pager has stopped serving
    /// faults, because it cannot know the page's bytes; the VM must stop. The argument names the home node, the
    /// page and the store's error.
    public event Action<string>? Failed;

    /// The pager's latest state (immutable, replaced after every step): other threads count it (Census) without
    /// stopping the pager.
    public CorePager.PagerState State => Volatile.Read(ref state);

    /// The reason the pager stopped serving, or null while it serves.
    public string? FailureReason => Volatile.Read(ref failure);

    public UserfaultPager(GuestMemory memory, CorePager.PagerConfig config, IPageStore store, Action<string> log)
    {
        this.memory = memory;
        this.store = store;
        this.log = log;
        state = CorePager.create(config);
        // No UFFD_USER_MODE_ONLY: KVM's own accesses to guest memory must fault into us too.
        uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        paged = memory.Regions.Where(r => r.Node is not null).Select(r => new PagedRegion(r.Mapping.Address, r.GuestAddress, r.Mapping.Length)).ToArray();
        foreach (var region in memory.Regions.Where(r => r.Node is not null))
            uffd.Register(region.Mapping.Address, region.Mapping.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
    }

    public void Start()
    {
        thread = new Thread(Run) { Name = "pager", IsBackground = true };
        thread.Start();
    }

    /// Asks the pager to evict a page now (drain, budget shrink, tests).
    public void RequestEviction(PageNumber page)
    {
        requests.Writer.TryWrite(CorePager.PagerEvent.NewEvictRequested(page));
        uffd.Interrupt();
    }

    /// <summary>
    /// Moves every page whose newest copy the memory node <paramref name="source"/> holds to
    /// <paramref name="target"/>; from now on nothing is written to <paramref name="source"/> and no page is
    /// homed there. Completes when no page needs <paramref name="source"/> any more (HomeMoved): after that the
    /// pager never reads or writes its store. Faults if the pager failed or the move is impossible (a node
    /// cannot move to itself).
    /// </summary>
    public Task MoveHomeAsync(int source, int target)
    {
        var completion = homeMoves.GetOrAdd(source, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (FailureReason is { } reason)
            completion.TrySetException(new PagerFailedException(reason));
        else
        {
            requests.Writer.TryWrite(CorePager.PagerEvent.NewMoveHome(source, target));
            uffd.Interrupt();
        }
        return completion.Task;
    }

    public void Stop()
    {
        lock (stepLock)
            stopped = true;
        requests.Writer.TryComplete();
        uffd.RequestStop();
        if (thread?.Join(StopTimeout) == false)
            log("pager: the pager thread did not stop within 5 s");
    }

    /// The pager thread: events queued by other threads first, then every pending fault message, then sleep in
    /// poll until either kind arrives. A message is read by the thread that resolves it (no handoff).
    void Run()
    {
        if (ThreadCpu is { } cpu)
        {
            try
            {
                Interop.Linux.CpuAffinity.PinCurrentThread(cpu);
            }
            catch (Interop.Linux.LinuxError error)
            {
                Fail($"the pager thread could not be pinned to CPU {cpu}: {error.Message}");
            }
        }
        var messages = new UserfaultMessage[ReadBatch];
        while (FailureReason is null)
        {
            lock (stepLock)
                while (FailureReason is null && requests.Reader.TryRead(out var request))
                    Handle(request);
            if (FailureReason is not null)
                break;
            // One batch at a time, so queued requests are not starved by a stream of faults.
            var status = uffd.Read(messages, Timeout.Infinite, out var count);
            if (status == UserfaultReadStatus.Stopped)
                return;
            lock (stepLock)
                for (var i = 0; i < count && FailureReason is null; i++)
                    OnMessage(ref messages[i]);
        }
        ReportFailure();
    }

    /// Stops serving for good: faults already read are never woken with made-up bytes, and the owner is told
    /// so that it stops the VM (whose vCPUs blocked in faults are then interrupted).
    void ReportFailure()
    {
        if (failureReported)
            return;
        failureReported = true;
        var reason = FailureReason!;
        Metrics.CountError();
        log($"pager: {reason}");
        foreach (var move in homeMoves.Values)
            move.TrySetException(new PagerFailedException(reason));
        Failed?.Invoke(reason);
    }

    void Fail(string reason)
    {
        Interlocked.CompareExchange(ref failure, reason, null);
        try
        {
            uffd.Interrupt();
        }
        catch (ObjectDisposedException)
        {
            // The pager was disposed meanwhile: nobody is left to tell.
        }
    }

    static string FailureOf(string what, int node, PageNumber page, Exception error) =>
        $"the page store of home node {node} failed to {what} page 0x{page.Value:X}: {error.Message} (the VM cannot continue without that page's bytes)";

    /// Steps the completion of a store transfer that did not finish at once on the thread that completed it
    /// (a reply then wakes the faulting vCPU without waking the pager thread: one thread hand-off less per
    /// round trip, as the C reference handler that blocks in recv itself), or, when another step is running,
    /// posts it through the channel; fails the pager if the transfer failed. The transfer's buffer stays owned
    /// by the pager until the completion is stepped. Never blocks on the step lock: the completing thread is a
    /// transport receive thread, which must keep reading replies.
    async Task CompleteLater(ValueTask transfer, CorePager.PagerEvent done, string what, int node, PageNumber page)
    {
        try
        {
            await transfer.ConfigureAwait(false);
        }
        catch (Exception error)
        {
            Fail(FailureOf(what, node, page, error));
            return;
        }
        var inline = TryStepInline(done);
        Metrics.CountCompletion(inline);
        if (inline)
            return;
        requests.Writer.TryWrite(done);
        try
        {
            uffd.Interrupt();
        }
        catch (ObjectDisposedException)
        {
            // Stopped and disposed while the transfer was in flight: nothing waits for it.
        }
    }

    /// True when `done` was stepped on this thread: the step lock was free, no step is running on this thread,
    /// and the pager still serves. A step that throws stops the pager (as it would on the pager thread).
    bool TryStepInline(CorePager.PagerEvent done)
    {
        if (!Monitor.TryEnter(stepLock))
            return false;
        try
        {
            if (stepping || stopped)
                return false;
            if (FailureReason is not null)
                return true; // nothing is stepped any more; the pager thread reports the failure
            Handle(done);
        }
        catch (Exception error)
        {
            Fail($"the pager failed while completing a transfer: {error.Message}");
        }
        finally
        {
            Monitor.Exit(stepLock);
        }
        return true;
    }

    /// Completes a started store transfer inline (no allocation) when the store answered at once, else when
    /// it completes.
    void Complete(ValueTask transfer, CorePager.PagerEvent done, string what, int node, PageNumber page)
    {
        if (transfer.IsCompletedSuccessfully)
        {
            transfer.GetAwaiter().GetResult(); // a pooled IValueTaskSource must be consumed once
            completions.Enqueue(done);
        }
        else
            _ = CompleteLater(transfer, done, what, node, page);
    }

    void OnMessage(ref UserfaultMessage message)
    {
        if (message.Event != UserfaultEvent.PageFault)
            return;
        var flags = message.PageFaultFlags;
        var writeProtect = (flags & UserfaultPageFaultFlags.WriteProtect) != 0;
        var write = writeProtect || (flags & UserfaultPageFaultFlags.Write) != 0;
        Metrics.CountFault(write, writeProtect);
        var id = FaultId.NewFaultId(++faultsRead);
        faultStarted[(int)(id.Value & (FaultClockSlots - 1))] = Stopwatch.GetTimestamp();
        Handle(CorePager.PagerEvent.NewFault(id, GuestPageOf((nint)message.Address), write ? Access.Write : Access.Read));
    }

    /// Steps one event, then the completions its actions produced (and theirs), then evicts ahead (whose
    /// write-backs a local store completes at once, stepped here too), before anything else is read. Evicting
    /// ahead is asked only once the step's actions are performed: its choice and syscalls never delay the
    /// Install/ZeroFill and Wake of a fault.
    void Handle(CorePager.PagerEvent pagerEvent)
    {
        stepping = true;
        try
        {
            Step(pagerEvent);
            do
            {
                while (FailureReason is null && completions.TryDequeue(out var completion))
                    Step(completion);
                if (FailureReason is null)
                    PerformStepped(CorePager.evictAhead(state), pagerEvent: null);
            }
            while (FailureReason is null && completions.Count > 0);
        }
        finally
        {
            stepping = false;
        }
    }

    void Step(CorePager.PagerEvent pagerEvent) => PerformStepped(CorePager.step(state, pagerEvent), pagerEvent);

    /// Publishes the core's new state, then performs its actions in order (and releases the buffer of a
    /// completed transfer once its completion has been stepped).
    void PerformStepped(Tuple<CorePager.PagerState, Microsoft.FSharp.Collections.FSharpList<CorePager.PagerAction>> stepped, CorePager.PagerEvent? pagerEvent)
    {
        var (next, actions) = stepped;
        Volatile.Write(ref state, next);
        for (var list = actions; !list.IsEmpty; list = list.Tail)
        {
            var action = list.Head;
            var following = list.Tail;
            if (!following.IsEmpty && following.Head is CorePager.PagerAction.Wake wake && PerformWaking(action, wake))
            {
                list = following; // the Wake was fused into the action
                continue;
            }
            Perform(action);
        }
        switch (pagerEvent)
        {
            case CorePager.PagerEvent.WriteBackDone done when outgoing.Remove(done.Item, out var sent):
                pageBuffers.Push(sent);
                break;
            case CorePager.PagerEvent.MovePageDone done when moving.Remove(done.Item, out var moved):
                pageBuffers.Push(moved);
                break;
        }
    }

    byte[] RentBuffer() => pageBuffers.Count > 0 ? pageBuffers.Pop() : GC.AllocateArray<byte>((int)PageSize, pinned: true);

    /// Performs a ZeroFill / Install / Unprotect immediately followed by a Wake of the same page as one waking
    /// ioctl (docs/pager.md allows it). False when the pair cannot be fused.
    bool PerformWaking(CorePager.PagerAction action, CorePager.PagerAction.Wake wake)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero when zero.Item1.Equals(wake.Item1):
                Fill(zero.Item1, zero.Item2, zeroPage, wake: true);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Install install when install.Item1.Equals(wake.Item1):
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: true);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.Unprotect unprotect when unprotect.Item.Equals(wake.Item1):
                uffd.WriteProtect(HostAddressOf(unprotect.Item), PageSize, protect: false);
                break;
            default:
                return false;
        }
        RecordWakes(wake.Item2);
        return true;
    }

    /// A home move reads the leaving home's copy and writes the same bytes to the new home (an exception
    /// thrown by either store call faults the returned task).
    async ValueTask MoveAsync(PageNumber page, int source, int target, byte[] buffer)
    {
        await store.ReadAsync(source, page.Value, buffer).ConfigureAwait(false);
        await store.WriteAsync(target, page.Value, buffer).ConfigureAwait(false);
    }

    byte[] TakeFetched(PageNumber page) => fetched.Remove(page, out var bytes)
        ? bytes
        : throw new InvalidOperationException($"pager: Install of page 0x{page.Value:X} without fetched bytes");

    void Perform(CorePager.PagerAction action)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero:
                Fill(zero.Item1, zero.Item2, zeroPage, wake: false);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Fetch fetch:
                // The core frees every fetched buffer explicitly (Install or DiscardFetched): bytes that arrived
                // for a page still waiting for a frame are kept, not taken for stale.
                if (fetched.ContainsKey(fetch.Item1))
                    throw new InvalidOperationException($"pager: Fetch of page 0x{fetch.Item1.Value:X} whose fetched bytes were neither installed nor discarded");
                var buffer = fetched[fetch.Item1] = RentBuffer();
                Metrics.CountFetch();
                ValueTask read;
                try
                {
                    read = store.ReadAsync(fetch.from, fetch.Item1.Value, buffer);
                }
                catch (Exception error) // a store that throws instead of returning a faulted task failed too
                {
                    read = ValueTask.FromException(error);
                }
                Complete(read, CorePager.PagerEvent.NewFetchDone(fetch.Item1), "read", fetch.from, fetch.Item1);
                break;
            case CorePager.PagerAction.Install install:
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: false);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.DiscardFetched discard:
                pageBuffers.Push(TakeFetched(discard.Item));
                break;
            case CorePager.PagerAction.WriteProtect protect:
                uffd.WriteProtect(HostAddressOf(protect.Item), PageSize, protect: true);
                break;
            case CorePager.PagerAction.Unprotect unprotect:
                uffd.WriteProtect(HostAddressOf(unprotect.Item), PageSize, protect: false, dontWake: true);
                break;
            case CorePager.PagerAction.CopyOut copyOut:
                // Through memmove, never a managed copy: guest RAM is uffd-registered (see NativeCopy).
                var bytesOut = RentBuffer();
                NativeCopy.FromMemory(bytesOut, HostAddressOf(copyOut.Item1));
                outgoing[copyOut.Item1] = bytesOut;
                Metrics.CountWriteBack();
                ValueTask write;
                try
                {
                    write = store.WriteAsync(copyOut.toNode, copyOut.Item1.Value, bytesOut);
                }
                catch (Exception error)
                {
                    write = ValueTask.FromException(error);
                }
                Complete(write, CorePager.PagerEvent.NewWriteBackDone(copyOut.Item1), "write", copyOut.toNode, copyOut.Item1);
                break;
            case CorePager.PagerAction.MovePage move:
                var bytesMoved = RentBuffer();
                moving[move.Item1] = bytesMoved;
                Metrics.CountMove();
                Complete(MoveAsync(move.Item1, move.from, move.toNode, bytesMoved), CorePager.PagerEvent.NewMovePageDone(move.Item1),
                    $"move (to home node {move.toNode})", move.from, move.Item1);
                break;
            case CorePager.PagerAction.HomeMoved moved:
                if (homeMoves.TryRemove(moved.Item, out var waiting))
                    waiting.TrySetResult();
                log($"pager: every page of home node {moved.Item} has moved; its store is no longer used");
                break;
            case CorePager.PagerAction.Drop drop:
                PageDiscard.DontNeed(HostAddressOf(drop.Item), PageSize);
                Metrics.CountDrop();
                break;
            case CorePager.PagerAction.Wake wake:
                uffd.Wake(HostAddressOf(wake.Item1), PageSize);
                RecordWakes(wake.Item2);
                break;
            case CorePager.PagerAction.AcknowledgeInvalidate acknowledge:
                log($"pager: invalidation of page 0x{acknowledge.Item1.Value:X} acknowledged to node {acknowledge.requester} (no transport yet)");
                break;
            case CorePager.PagerAction.Report { Item: CorePager.PagerError.InvalidHomeMove invalid }:
                if (homeMoves.TryRemove(invalid.source, out var refused))
                    refused.TrySetException(new ArgumentException($"home node {invalid.source} cannot move to node {invalid.target}: that is itself (or moved to it)"));
                log($"pager: {invalid}");
                break;
            case CorePager.PagerAction.Report report:
                Metrics.CountError();
                log($"pager: {report.Item}");
                break;
        }
    }

    /// UFFDIO_COPY, with WP when the page must stay write-protected, and with DONTWAKE unless the Wake that
    /// follows was fused into it. A page that is already there (EEXIST) was installed by an earlier action for
    /// the same page: nothing lost, but the kernel woke nobody, so a fused wake is done explicitly.
    unsafe void Fill(PageNumber page, Protection protection, byte[] source, bool wake)
    {
        var mode = (wake ? UserfaultCopyMode.None : UserfaultCopyMode.DontWake)
            | (protection.IsWriteProtected ? UserfaultCopyMode.WriteProtect : UserfaultCopyMode.None);
        var address = HostAddressOf(page);
        fixed (byte* bytes = source)
        {
            var result = uffd.Copy(address, (nint)bytes, PageSize, mode);
            if (result.Status == UserfaultFillStatus.TryAgain)
                throw new InvalidOperationException($"pager: UFFDIO_COPY of page 0x{page.Value:X} returned EAGAIN (the mapping changed under it)");
            if (wake && result.Status == UserfaultFillStatus.PageExists)
                uffd.Wake(address, PageSize);
        }
    }

    void RecordWakes(Microsoft.FSharp.Collections.FSharpList<FaultId> faults)
    {
        var now = Stopwatch.GetTimestamp();
        for (var list = faults; !list.IsEmpty; list = list.Tail)
        {
            var started = faultStarted[(int)(list.Head.Value & (FaultClockSlots - 1))];
            Metrics.CountWake((long)Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
        }
    }

    PageNumber GuestPageOf(nint hostAddress)
    {
        foreach (var region in paged)
            if (hostAddress >= region.Host && (ulong)(hostAddress - region.Host) < region.Length)
                return Page.ofAddress(GuestAddress.NewGuestAddress(region.Guest + (ulong)(hostAddress - region.Host)));
        throw new InvalidOperationException($"pager: fault at host address 0x{hostAddress:X} outside guest RAM");
    }

    nint HostAddressOf(PageNumber page)
    {
        var address = Page.address(page).Value;
        foreach (var region in paged)
            if (address >= region.Guest && address - region.Guest < region.Length)
                return region.Host + (nint)(address - region.Guest);
        throw new InvalidOperationException($"pager: page 0x{page.Value:X} is not guest RAM");
    }

    public void Dispose()
    {
        uffd.Dispose();
    }
}

/// <summary>The pager stopped serving because a page store failed; the message says which home, page and why.</summary>
public sealed class PagerFailedException(string reason) : Exception(reason);
