using System.Runtime.InteropServices;
using SsiHv.Core.Memory;
using SsiHv.Core.Paging;
using SsiHv.Core.Topology;
using SsiHv.Interop.Memory;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Vmm.Memory;
using SsiHv.Tests.Support;
using Xunit;
using SsiHv.Tests.Vmm;
using Xunit.Abstractions;
using CorePager = SsiHv.Core.Paging.Pager;

namespace SsiHv.Tests.Pager;

/// <summary>
/// Writes racing evictions through the real userfaultfd path: threads keep writing increasing values into
/// their pages of guest RAM while another thread keeps asking the pager to evict those very pages, under a
/// budget far below the working set. Every page must end up holding the last value written to it, and no
/// read may ever see a value older than one already read (no lost write, no stale read).
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class WriteRacingEvictionTests(ITestOutputHelper output)
{
    const int Writers = 3;
    const int PagesPerWriter = 16;
    const int BudgetPages = 8;
    /// The race runs at least this long and until the pager has evicted more than MinimumEvictions pages (a slow
    /// host, such as a lab machine under load, needs longer for as many), but never beyond RaceLimit.
    static readonly TimeSpan RaceDuration = TimeSpan.FromSeconds(3);
    const int MinimumEvictions = 100;
    static readonly TimeSpan RaceLimit = TestScale.Seconds(30);

    [Fact]
    public void No_write_is_lost_and_no_read_is_stale_while_pages_are_evicted_under_the_writers()
    {
        var path = SsiHv.Tests.Cli.TestFiles.TopologyPath("one-node");
        Assert.True(SsiHv.Shell.Topology.TopologyFile.TryLoad(path, out var topology, out var problems), string.Join('\n', problems));
        using var memory = GuestMemory.Create(Layout.ranges(topology));
        using var store = new LocalPageStore(memory);
        var config = CorePager.PagerConfigModule.create(NodeId.NewNodeId(0), BudgetPages, Placement.ofTopology(Placement.PlacementPolicy.FirstTouch, topology)).ResultValue;
        using var pager = new UserfaultPager(memory, config, store, output.WriteLine);
        pager.Start();

        // Pages above the first MiB of node 0's RAM (the region starting at 1 MiB).
        var region = memory.Regions.Single(r => r.GuestAddress == 0x100000);
        ulong PageOf(int writer, int index) => 0x100000 / 4096 + (ulong)(writer * PagesPerWriter + index);
        // Through NativeCopy, as a guest's own accesses are from KVM_RUN: a thread stalled in a fault must not
        // hold up the garbage collector (see interop/Memory/NativeCopy.cs).
        nint Cell(ulong page) => region.Mapping.Address + (nint)(page * 4096 - region.GuestAddress);
        long Load(ulong page) { Span<long> value = stackalloc long[1]; NativeCopy.FromMemory(MemoryMarshal.AsBytes(value), Cell(page)); return value[0]; }
        void Store(ulong page, long value) => NativeCopy.ToMemory(Cell(page), MemoryMarshal.AsBytes(new ReadOnlySpan<long>(in value)));

        var lastWritten = new long[Writers, PagesPerWriter];
        var failures = new List<string>();
        using var stop = new CancellationTokenSource(RaceLimit);
        var raceClock = System.Diagnostics.Stopwatch.StartNew();
        var writers = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
        {
            var seen = new long[PagesPerWriter];
            for (long value = 1; !stop.IsCancellationRequested; value++)
                for (var i = 0; i < PagesPerWriter; i++)
                {
                    var read = Load(PageOf(w, i));
                    if (read != lastWritten[w, i])
                        lock (failures)
                            failures.Add($"page {PageOf(w, i):X}: read {read}, last written {lastWritten[w, i]}");
                    Store(PageOf(w, i), value);
                    lastWritten[w, i] = value;
                }
        })).ToList();
        var evictor = new Thread(() =>
        {
            var random = new Random(42);
            while (!stop.IsCancellationRequested)
            {
                pager.RequestEviction(PageNumber.NewPageNumber(PageOf(random.Next(Writers), random.Next(PagesPerWriter))));
                Thread.SpinWait(200);
                if (raceClock.Elapsed >= RaceDuration && pager.Metrics.Evictions > MinimumEvictions)
                    stop.Cancel();
            }
        });
        var threads = writers.Append(evictor).ToList();
        threads.ForEach(t => t.Start());
        var deadline = DateTime.UtcNow + RaceLimit + TestScale.Seconds(60);
        Assert.True(threads.All(t => t.Join(deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero)),
            "a racing thread did not finish");

        for (var w = 0; w < Writers; w++)
            for (var i = 0; i < PagesPerWriter; i++)
                Assert.Equal(lastWritten[w, i], Load(PageOf(w, i)));
        pager.Stop();
        output.WriteLine(pager.Metrics.Summary());
        Assert.Empty(failures);
        Assert.Equal(0, pager.Metrics.Errors);
        Assert.True(pager.Metrics.Evictions > MinimumEvictions,
            $"only {pager.Metrics.Evictions} evictions in {RaceLimit.TotalSeconds} s: the race was not exercised");
        Assert.True(pager.Metrics.WriteProtectFaults > 0, "no write hit a write-protected page: the race was not exercised");
        Assert.True(pager.Metrics.ResidentPages <= BudgetPages);
    }
}
