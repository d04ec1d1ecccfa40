using System.Diagnostics;
using System.Threading.Channels;
using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;
using SsiHv.Interop.Userfault;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// The page-fault pipeline of DESIGN.md §3 for one node host: a reader thread turns userfaultfd messages into
/// <see cref="CorePager.PagerEvent"/>s on a channel; one consumer thread asks the core's <see cref="CorePager.step"/>
/// what to do and performs the actions (UFFDIO_COPY, UFFDIO_WRITEPROTECT, UFFDIO_WAKE, MADV_DONTNEED, the page
/// store) in order, feeding completions back through the same channel. docs/pager.md says why each action is
/// safe; this class only performs them.
/// </summary>
public sealed unsafe class UserfaultPager : IDisposable
{
    const ulong PageSize = 4096;
    const int ReadBatch = 64;
    const int ReadTimeoutMilliseconds = 100;
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    readonly GuestMemory memory;
    readonly IPageStore store;
    readonly UserfaultFd uffd;
    readonly Channel<CorePager.PagerEvent> events = Channel.CreateUnbounded<CorePager.PagerEvent>(new UnboundedChannelOptions { SingleReader = true });
    readonly Dictionary<ulong, byte[]> fetched = [];
    readonly Dictionary<ulong, long> faultStarted = [];
    readonly object faultClock = new();
    readonly byte[] zeroPage = GC.AllocateArray<byte>((int)PageSize, pinned: true);
    readonly Stack<byte[]> pageBuffers = new();
    readonly Action<string> log;
    CorePager.PagerState state;
    Thread? reader, consumer;
    long nextFault;

    public PagerMetrics Metrics { get; } = new();

    public UserfaultPager(GuestMemory memory, CorePager.PagerConfig config, IPageStore store, Action<string> log)
    {
        this.memory = memory;
        this.store = store;
        this.log = log;
        state = CorePager.create(config);
        // No UFFD_USER_MODE_ONLY: KVM's own accesses to guest memory must fault into us too.
        uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        foreach (var region in memory.Regions.Where(r => r.Node is not null))
            uffd.Register(region.Mapping.Address, region.Mapping.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
    }

    public void Start()
    {
        consumer = new Thread(Consume) { Name = "pager", IsBackground = true };
        reader = new Thread(ReadFaults) { Name = "uffd reader", IsBackground = true };
        consumer.Start();
        reader.Start();
    }

    /// Asks the pager to evict a page now (drain, budget shrink, tests).
    public void RequestEviction(ulong page) => events.Writer.TryWrite(CorePager.PagerEvent.NewEvictRequested(page));

    public void Stop()
    {
        uffd.RequestStop();
        events.Writer.TryComplete();
        if (reader?.Join(StopTimeout) == false || consumer?.Join(StopTimeout) == false)
            log("pager: a pager thread did not stop within 5 s");
    }

    void ReadFaults()
    {
        var messages = new UserfaultMessage[ReadBatch];
        while (true)
        {
            var status = uffd.Read(messages, ReadTimeoutMilliseconds, out var count);
            if (status == UserfaultReadStatus.Stopped)
                return;
            for (var i = 0; i < count; i++)
            {
                ref var message = ref messages[i];
                if (message.Event != UserfaultEvent.PageFault)
                    continue;
                var flags = message.PageFaultFlags;
                var writeProtect = flags.HasFlag(UserfaultPageFaultFlags.WriteProtect);
                var write = writeProtect || flags.HasFlag(UserfaultPageFaultFlags.Write);
                Metrics.CountFault(write, writeProtect);
                var id = (ulong)Interlocked.Increment(ref nextFault);
                lock (faultClock)
                    faultStarted[id] = Stopwatch.GetTimestamp();
                var page = GuestPageOf((nint)message.Address);
                events.Writer.TryWrite(CorePager.PagerEvent.NewFault(id, page, write ? Access.Write : Access.Read));
            }
        }
    }

    void Consume()
    {
        var reader = events.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var pagerEvent))
            {
                var (next, actions) = CorePager.step(state, pagerEvent);
                state = next;
                foreach (var action in actions)
                    Perform(action);
                if (pagerEvent is CorePager.PagerEvent.FetchDone done && fetched.Remove(done.Item, out var unused))
                    pageBuffers.Push(unused); // the fetch went stale; its bytes were never installed
            }
        }
    }

    void Perform(CorePager.PagerAction action)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero:
                Fill(zero.Item1, zero.Item2, zeroPage);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Fetch fetch:
                var buffer = pageBuffers.Count > 0 ? pageBuffers.Pop() : GC.AllocateArray<byte>((int)PageSize, pinned: true);
                store.Read(fetch.from, fetch.Item1, buffer);
                fetched[fetch.Item1] = buffer;
                Metrics.CountFetch();
                events.Writer.TryWrite(CorePager.PagerEvent.NewFetchDone(fetch.Item1));
                break;
            case CorePager.PagerAction.Install install:
                if (!fetched.Remove(install.Item1, out var bytes))
                    throw new InvalidOperationException($"pager: Install of page 0x{install.Item1:X} without fetched bytes");
                Fill(install.Item1, install.Item2, bytes);
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
                store.Write(copyOut.toNode, copyOut.Item1, new ReadOnlySpan<byte>((void*)HostAddressOf(copyOut.Item1), (int)PageSize));
                Metrics.CountWriteBack();
                events.Writer.TryWrite(CorePager.PagerEvent.NewWriteBackDone(copyOut.Item1));
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

    /// UFFDIO_COPY with DONTWAKE (the Wake action follows) and WP when the page must stay write-protected. A
    /// page that is already there (EEXIST) was installed by an earlier action for the same page: nothing lost.
    void Fill(ulong page, Protection protection, byte[] source)
    {
        var mode = UserfaultCopyMode.DontWake | (protection.IsWriteProtected ? UserfaultCopyMode.WriteProtect : UserfaultCopyMode.None);
        fixed (byte* bytes = source)
        {
            var result = uffd.Copy(HostAddressOf(page), (nint)bytes, PageSize, mode);
            if (result.Status == UserfaultFillStatus.TryAgain)
                throw new InvalidOperationException($"pager: UFFDIO_COPY of page 0x{page:X} returned EAGAIN (the mapping changed under it)");
        }
    }

    void RecordWakes(Microsoft.FSharp.Collections.FSharpList<ulong> faults)
    {
        var now = Stopwatch.GetTimestamp();
        lock (faultClock)
            foreach (var fault in faults)
                if (faultStarted.Remove(fault, out var started))
                    Metrics.CountWake((long)Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
    }

    ulong GuestPageOf(nint hostAddress)
    {
        foreach (var region in memory.Regions)
            if (hostAddress >= region.Mapping.Address && (ulong)(hostAddress - region.Mapping.Address) < region.Mapping.Length)
                return (region.GuestAddress + (ulong)(hostAddress - region.Mapping.Address)) / PageSize;
        throw new InvalidOperationException($"pager: fault at host address 0x{hostAddress:X} outside guest RAM");
    }

    nint HostAddressOf(ulong page)
    {
        var address = page * PageSize;
        foreach (var region in memory.Regions)
            if (region.Node is not null && address >= region.GuestAddress && address < region.End)
                return region.Mapping.Address + (nint)(address - region.GuestAddress);
        throw new InvalidOperationException($"pager: page 0x{page:X} is not guest RAM");
    }

    public void Dispose() => uffd.Dispose();
}
