using System.Diagnostics;
using System.Threading.Channels;
using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;
using SsiHv.Interop.Userfault;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// The page-fault pipeline of DESIGN.md §3 for one node host. One pager thread polls the userfaultfd (and an
/// eventfd for events queued by other threads), turns each fault message into a <see cref="CorePager.PagerEvent"/>,
/// asks the core's <see cref="CorePager.step"/> what to do and performs the actions (UFFDIO_COPY,
/// UFFDIO_WRITEPROTECT, UFFDIO_WAKE, MADV_DONTNEED, the page store) in order. The local page store answers at
/// once, so Fetch and CopyOut are completed (FetchDone / WriteBackDone fed to `step`) before the next message
/// is read; an install or unprotect directly followed by the wake of its page is one waking ioctl.
/// docs/pager.md says why each action is safe; this class only performs them.
/// </summary>
public sealed unsafe class UserfaultPager : IDisposable
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
    /// Events from other threads (eviction requests; transport completions later): the channel stage of the
    /// pipeline, drained by the pager thread, which the producer wakes through the userfaultfd reader's interrupt.
    readonly Channel<CorePager.PagerEvent> requests =
        Channel.CreateUnbounded<CorePager.PagerEvent>(new UnboundedChannelOptions { SingleReader = true });
    readonly Dictionary<ulong, byte[]> fetched = [];
    /// Fault-read timestamps for the latency metric, indexed by fault id modulo the ring (a fault still waiting
    /// after 16,384 newer ones would be timed from the wrong start; only the metric would be off).
    readonly long[] faultStarted = new long[FaultClockSlots];
    /// Completions of synchronous (local-store) transfers, fed to `step` right after the current step.
    readonly Queue<CorePager.PagerEvent> completions = new();
    readonly byte[] zeroPage = GC.AllocateArray<byte>((int)PageSize, pinned: true);
    readonly Stack<byte[]> pageBuffers = new();
    readonly Action<string> log;
    CorePager.PagerState state;
    Thread? thread;
    ulong nextFault;
    /// Set when the step being performed issued a Fetch (a stale FetchDone re-fetches into the same buffer).
    bool refetched;

    public PagerMetrics Metrics { get; } = new();

    public UserfaultPager(GuestMemory memory, CorePager.PagerConfig config, IPageStore store, Action<string> log)
    {
        this.memory = memory;
        this.store = store;
        this.log = log;
        state = CorePager.create(WithReadAheadFromEnvironment(config));
        // No UFFD_USER_MODE_ONLY: KVM's own accesses to guest memory must fault into us too.
        uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        paged = memory.Regions.Where(r => r.Node is not null).Select(r => new PagedRegion(r.Mapping.Address, r.GuestAddress, r.Mapping.Length)).ToArray();
        foreach (var region in memory.Regions.Where(r => r.Node is not null))
            uffd.Register(region.Mapping.Address, region.Mapping.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
    }

    /// Read-ahead (docs/pager.md) is off unless SSIHV_PAGER_READAHEAD names a block size in pages (e.g. 16).
    public const string ReadAheadVariable = "SSIHV_PAGER_READAHEAD";

    static CorePager.PagerConfig WithReadAheadFromEnvironment(CorePager.PagerConfig config) =>
        int.TryParse(Environment.GetEnvironmentVariable(ReadAheadVariable), out var blockPages)
            ? CorePager.PagerConfigModule.withReadAhead(blockPages, config)
            : config;

    public void Start()
    {
        thread = new Thread(Run) { Name = "pager", IsBackground = true };
        thread.Start();
    }

    /// Asks the pager to evict a page now (drain, budget shrink, tests).
    public void RequestEviction(ulong page)
    {
        requests.Writer.TryWrite(CorePager.PagerEvent.NewEvictRequested(page));
        uffd.Interrupt();
    }

    public void Stop()
    {
        requests.Writer.TryComplete();
        uffd.RequestStop();
        if (thread?.Join(StopTimeout) == false)
            log("pager: the pager thread did not stop within 5 s");
    }

    /// The pager thread: events queued by other threads first, then every pending fault message, then sleep in
    /// poll until either kind arrives. A message is read by the thread that resolves it (no handoff).
    void Run()
    {
        var messages = new UserfaultMessage[ReadBatch];
        while (true)
        {
            while (requests.Reader.TryRead(out var request))
                Handle(request);
            // One batch at a time, so queued requests are not starved by a stream of faults.
            var status = uffd.Read(messages, Timeout.Infinite, out var count);
            if (status == UserfaultReadStatus.Stopped)
                return;
            for (var i = 0; i < count; i++)
                OnMessage(ref messages[i]);
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
        var id = ++nextFault;
        faultStarted[(int)(id & (FaultClockSlots - 1))] = Stopwatch.GetTimestamp();
        Handle(CorePager.PagerEvent.NewFault(id, GuestPageOf((nint)message.Address), write ? Access.Write : Access.Read));
    }

    /// Steps one event, then the completions its actions produced (and theirs), before anything else is read.
    void Handle(CorePager.PagerEvent pagerEvent)
    {
        Step(pagerEvent);
        while (completions.TryDequeue(out var completion))
            Step(completion);
    }

    void Step(CorePager.PagerEvent pagerEvent)
    {
        var (next, actions) = CorePager.step(state, pagerEvent);
        state = next;
        refetched = false;
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
        if (pagerEvent is CorePager.PagerEvent.FetchDone done && !refetched && fetched.Remove(done.Item, out var unused))
            pageBuffers.Push(unused); // the fetch went stale; its bytes were never installed
    }

    /// Performs a ZeroFill / Install / Unprotect immediately followed by a Wake of the same page as one waking
    /// ioctl (docs/pager.md allows it). False when the pair cannot be fused.
    bool PerformWaking(CorePager.PagerAction action, CorePager.PagerAction.Wake wake)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero when zero.Item1 == wake.Item1:
                Fill(zero.Item1, zero.Item2, zeroPage, wake: true);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Install install when install.Item1 == wake.Item1:
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: true);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.Unprotect unprotect when unprotect.Item == wake.Item1:
                uffd.WriteProtect(HostAddressOf(unprotect.Item), PageSize, protect: false);
                break;
            default:
                return false;
        }
        RecordWakes(wake.Item2);
        return true;
    }

    byte[] TakeFetched(ulong page) => fetched.Remove(page, out var bytes)
        ? bytes
        : throw new InvalidOperationException($"pager: Install of page 0x{page:X} without fetched bytes");

    void Perform(CorePager.PagerAction action)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero:
                Fill(zero.Item1, zero.Item2, zeroPage, wake: false);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Fetch fetch:
                if (!fetched.TryGetValue(fetch.Item1, out var buffer))
                    fetched[fetch.Item1] = buffer = pageBuffers.Count > 0 ? pageBuffers.Pop() : GC.AllocateArray<byte>((int)PageSize, pinned: true);
                store.ReadAsync(fetch.from, fetch.Item1, buffer).GetAwaiter().GetResult();
                refetched = true;
                Metrics.CountFetch();
                // The local store answers at once: complete the transfer in this consumer iteration.
                completions.Enqueue(CorePager.PagerEvent.NewFetchDone(fetch.Item1));
                break;
            case CorePager.PagerAction.Install install:
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: false);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.WriteProtect protect:
                uffd.WriteProtect(HostAddressOf(protect.Item), PageSize, protect: true);
                break;
            case CorePager.PagerAction.Unprotect unprotect:
                uffd.WriteProtect(HostAddressOf(unprotect.Item), PageSize, protect: false, dontWake: true);
                break;
            case CorePager.PagerAction.CopyOut copyOut:
                var outgoing = pageBuffers.Count > 0 ? pageBuffers.Pop() : GC.AllocateArray<byte>((int)PageSize, pinned: true);
                new ReadOnlySpan<byte>((void*)HostAddressOf(copyOut.Item1), (int)PageSize).CopyTo(outgoing);
                store.WriteAsync(copyOut.toNode, copyOut.Item1, outgoing).GetAwaiter().GetResult();
                pageBuffers.Push(outgoing);
                Metrics.CountWriteBack();
                completions.Enqueue(CorePager.PagerEvent.NewWriteBackDone(copyOut.Item1));
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
                log($"pager: invalidation of page 0x{acknowledge.Item1:X} acknowledged to node {acknowledge.requester} (no transport yet)");
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
    void Fill(ulong page, Protection protection, byte[] source, bool wake)
    {
        var mode = (wake ? UserfaultCopyMode.None : UserfaultCopyMode.DontWake)
            | (protection.IsWriteProtected ? UserfaultCopyMode.WriteProtect : UserfaultCopyMode.None);
        var address = HostAddressOf(page);
        fixed (byte* bytes = source)
        {
            var result = uffd.Copy(address, (nint)bytes, PageSize, mode);
            if (result.Status == UserfaultFillStatus.TryAgain)
                throw new InvalidOperationException($"pager: UFFDIO_COPY of page 0x{page:X} returned EAGAIN (the mapping changed under it)");
            if (wake && result.Status == UserfaultFillStatus.PageExists)
                uffd.Wake(address, PageSize);
        }
    }

    void RecordWakes(Microsoft.FSharp.Collections.FSharpList<ulong> faults)
    {
        var now = Stopwatch.GetTimestamp();
        for (var list = faults; !list.IsEmpty; list = list.Tail)
        {
            var started = faultStarted[(int)(list.Head & (FaultClockSlots - 1))];
            Metrics.CountWake((long)Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
        }
    }

    ulong GuestPageOf(nint hostAddress)
    {
        foreach (var region in paged)
            if (hostAddress >= region.Host && (ulong)(hostAddress - region.Host) < region.Length)
                return (region.Guest + (ulong)(hostAddress - region.Host)) / PageSize;
        throw new InvalidOperationException($"pager: fault at host address 0x{hostAddress:X} outside guest RAM");
    }

    nint HostAddressOf(ulong page)
    {
        var address = page * PageSize;
        foreach (var region in paged)
            if (address >= region.Guest && address - region.Guest < region.Length)
                return region.Host + (nint)(address - region.Guest);
        throw new InvalidOperationException($"pager: page 0x{page:X} is not guest RAM");
    }

    public void Dispose()
    {
        uffd.Dispose();
    }
}
