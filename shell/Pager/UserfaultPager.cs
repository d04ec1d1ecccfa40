using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;
using SsiHv.Core.Topology;
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
public sealed partial class UserfaultPager : IDisposable
{
    const ulong PageSize = 4096;
    const int ReadBatch = 64;
    const int FaultClockSlots = 1 << 14;
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    readonly GuestPageAddresses addresses;
    readonly IPageStore store;
    readonly UserfaultFd uffd;
    /// Events from other threads (eviction, home-move and invalidation requests, asynchronous store completions): the channel
    /// stage of the pipeline, drained by the pager thread, which the producer wakes through the userfaultfd
    /// reader's interrupt.
    readonly Channel<CorePager.PagerEvent> requests =
        Channel.CreateUnbounded<CorePager.PagerEvent>(new UnboundedChannelOptions { SingleReader = true });
    /// Callers of MoveHomeAsync, by leaving node, completed at HomeMoved.
    readonly ConcurrentDictionary<int, TaskCompletionSource> homeMoves = new();
    /// Why the pager stopped serving (a page store failed); set once, by whichever thread saw the failure.
    string? failure;
    bool failureReported;
    /// Fault-read timestamps for the latency metric, indexed by fault id modulo the ring (a fault still waiting
    /// after 16,384 newer ones would be timed from the wrong start; only the metric would be off).
    readonly long[] faultStarted = new long[FaultClockSlots];
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
        this.store = store;
        this.log = log;
        state = CorePager.create(config);
        // No UFFD_USER_MODE_ONLY: KVM's own accesses to guest memory must fault into us too.
        uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        addresses = new GuestPageAddresses(memory);
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
            requests.Writer.TryWrite(CorePager.PagerEvent.NewMoveHome(NodeId.NewNodeId(source), NodeId.NewNodeId(target)));
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
        FailInvalidations("the pager stopped before the copy was dropped");
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
        FailInvalidations(reason);
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
        Handle(CorePager.PagerEvent.NewFault(id, addresses.GuestPageOf((nint)message.Address), write ? Access.Write : Access.Read));
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
        if (pagerEvent is not null)
            ReleaseCompletedBuffer(pagerEvent);
    }

    public void Dispose()
    {
        uffd.Dispose();
    }
}

/// <summary>The pager stopped serving because a page store failed; the message says which home, page and why.</summary>
public sealed class PagerFailedException(string reason) : Exception(reason);
