using Microsoft.FSharp.Collections;
using SsiHv.Core.Memory;
using SsiHv.Core.Paging;
using SsiHv.Core.Topology;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Vmm.Memory;
using static SsiHv.Shell.Bench.FaultGuestLayout;

namespace SsiHv.Shell.Bench;

/// <summary>
/// Our side of <c>ssihv bench fault</c>: the fault guest in a KVM VM of this process, or a host thread running its
/// loop (<see cref="FaultToucher"/>), touching a paged region served by
/// <see cref="UserfaultPager"/> (pager thread: uffd read → core Pager.step → UFFDIO_COPY / WRITEPROTECT / WAKE,
/// MADV_DONTNEED, <see cref="LocalPageStore"/>) exactly as <c>ssihv run --memory-budget</c> serves guest RAM.
/// </summary>
public static class FaultOurPager
{
    /// Far above the ≈1 s a run takes; a pager that never wakes the vCPU fails the run instead of hanging it.
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(60);
    static readonly TimeSpan FailureCheckInterval = TimeSpan.FromMilliseconds(100);

    /// Every page homed on node 0, this node, in a <see cref="LocalPageStore"/>.
    public static FaultRun Run(byte[] guestCode, int pages, int budgetPages, int passes, FaultThreadPlacement placement, FaultToucher toucher) =>
        Run(guestCode, pages, budgetPages, passes, LocalNode, memory => new LocalPageStore(memory), guestHalted: null, placement, toucher);

    /// The pager runs as node 0; every page is homed on `home` and kept by the store `storeFor` makes (disposed
    /// after the run when it is IDisposable). `guestHalted` runs once the toucher is done, before the pages are
    /// read back (which faults the evicted ones in again). `placement` pins the toucher (vCPU or host thread) and
    /// the pager thread (or not).
    public static FaultRun Run(byte[] guestCode, int pages, int budgetPages, int passes, int home, Func<GuestMemory, IPageStore> storeFor, Action? guestHalted,
        FaultThreadPlacement placement, FaultToucher toucher)
    {
        using var memory = GuestMemory.Create([new Layout.MemoryRange(NodeId.NewNodeId(LocalNode), DataBase, (ulong)pages * PageSize)]);
        using var touching = FaultToucherUnits.Create(toucher, memory, guestCode, pages, passes);

        var store = storeFor(memory);
        using var disposeStore = store as IDisposable;
        using var pager = new UserfaultPager(memory, ConfigFor(pages, budgetPages, home), store, line => Console.Error.WriteLine($"ssihv bench fault: {line}"))
        {
            ThreadCpu = placement.PagerCpu,
        };
        pager.Start();
        try
        {
            var marks = new List<long>();
            string? failure = null;
            var toucherThread = new Thread(() => failure = touching.Touch(marks, placement.VcpuCpu)) { Name = "bench toucher", IsBackground = true };
            toucherThread.Start();
            // A pager whose store failed (a remote home gone) never resolves the fault: report its reason at once.
            var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(RunTimeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
            while (!toucherThread.Join(FailureCheckInterval))
            {
                if (pager.FailureReason is { } reason)
                    throw new BenchRunException($"ours: the pager stopped serving: {reason}");
                if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                    throw new BenchRunException($"ours: the touches did not finish within {RunTimeout.TotalSeconds} s (pager stuck?)");
            }
            if (failure is not null)
                throw new BenchRunException($"ours: {failure}");
            guestHalted?.Invoke();
            if (marks.Count != passes + 1)
                throw new BenchRunException($"ours: {marks.Count} pass marks, expected {passes + 1}");

            var metrics = pager.Metrics;
            var (faults, zeroFills, fetches, evictions) = (metrics.ReadFaults + metrics.WriteFaults + metrics.WriteProtectFaults, metrics.ZeroFills, metrics.Fetches, metrics.Evictions);
            var (p50, p99) = (metrics.LatencyQuantileMicroseconds(0.5), metrics.LatencyQuantileMicroseconds(0.99));
            var wrongPages = CountWrongPages(memory, pages, passes);

            var passMicroseconds = Enumerable.Range(0, passes)
                .Select(pass => System.Diagnostics.Stopwatch.GetElapsedTime(marks[pass], marks[pass + 1]).TotalMicroseconds)
                .ToArray();
            return new FaultRun(touching.Timings(memory), passMicroseconds, faults, zeroFills, fetches, evictions, wrongPages, p50, p99);
        }
        finally
        {
            pager.Stop();
        }
    }

    /// The node the pager runs as.
    const int LocalNode = 0;

    /// The frames our pager keeps free for this budget (the core's default target), which the C reference is told.
    public static int FreeFramesFor(int pages, int budgetPages) => ConfigFor(pages, budgetPages, LocalNode).FreeFrames;

    /// The paged region is one SRAT range of `home`, the only node with memory, so every page is homed there.
    static SsiHv.Core.Paging.Pager.PagerConfig ConfigFor(int pages, int budgetPages, int home)
    {
        var first = Page.ofAddress(GuestAddress.NewGuestAddress(DataBase));
        var placement = new Placement.Placement(
            Placement.PlacementPolicy.FirstTouch,
            ListModule.OfSeq([Tuple.Create(NodeId.NewNodeId(home), (ulong)pages)]),
            ListModule.OfSeq([new Placement.PageRange(NodeId.NewNodeId(home), first, (ulong)pages)]));
        var created = SsiHv.Core.Paging.Pager.PagerConfigModule.create(NodeId.NewNodeId(LocalNode), budgetPages, placement);
        return created.IsOk ? created.ResultValue : throw new ArgumentOutOfRangeException(nameof(budgetPages), "budget below one page");
    }

    /// Word 1 of every page must sum the pass counters (fault_guest.S). Read on another thread with a timeout:
    /// the reads of evicted pages fault into the still-running pager.
    static long CountWrongPages(GuestMemory memory, int pages, int passes)
    {
        var expected = (uint)(passes * (passes + 1) / 2);
        long wrong = 0;
        var reader = new Thread(() =>
        {
            Span<byte> word = stackalloc byte[4];
            for (var page = 0; page < pages; page++)
            {
                memory.Read(DataBase + (ulong)page * PageSize + 4, word);
                if (BitConverter.ToUInt32(word) != expected)
                    wrong++;
            }
        }) { Name = "bench verify", IsBackground = true };
        reader.Start();
        return reader.Join(VerifyTimeout)
            ? wrong
            : throw new BenchRunException($"ours: reading the pages back did not finish within {VerifyTimeout.TotalSeconds} s");
    }
}
