using System.Runtime.InteropServices;
using SsiHv.Core.Memory;
using SsiHv.Core.Paging;
using SsiHv.Core.Topology;
using SsiHv.Interop.Memory;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Shell.Vmm.Memory;
using SsiHv.Tests.Support;
using SsiHv.Tests.Transport;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;
using CorePager = SsiHv.Core.Paging.Pager;

namespace SsiHv.Tests.Pager;

/// <summary>
/// A remote invalidation end to end, through the real userfaultfd path and real TCP transports on 127.0.0.1 (no
/// VM: this thread touches guest RAM as a vCPU would): a writer node invalidates a page at the node whose pager
/// holds a dirty copy; the copy goes home, is dropped, the ack comes back over the transport, and the next touch
/// faults and reads what the home holds then.
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class RemoteInvalidationTests(ITestOutputHelper output)
{
    const int PagerNode = 1, WriterNode = 2;
    /// One-node topology: node 0 is this host's only NUMA node and every page's home (first touch).
    const int Home = 0;
    const ulong RegionStart = 0x100000;
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_dirty_page_invalidated_over_the_transport_goes_home_is_dropped_and_faults_in_the_homes_newer_bytes()
    {
        var path = SsiHv.Tests.Cli.TestFiles.TopologyPath("one-node");
        Assert.True(SsiHv.Shell.Topology.TopologyFile.TryLoad(path, out var topology, out var problems), string.Join('\n', problems));
        using var memory = GuestMemory.Create(Layout.ranges(topology));
        using var store = new LocalPageStore(memory);
        var config = CorePager.PagerConfigModule.create(NodeId.NewNodeId(Home), 8, Placement.ofTopology(Placement.PlacementPolicy.FirstTouch, topology)).ResultValue;
        using var pager = new UserfaultPager(memory, config, store, output.WriteLine);
        pager.Start();
        var invalidations = new RunningVmInvalidations();
        invalidations.Attach(pager);
        var log = new TransportLog(output);
        await using var pagerHost = new TcpNodeTransport(Options(PagerNode, new MemoryPageService(), log) with { Invalidations = invalidations });
        await using var writer = new TcpNodeTransport(Options(WriterNode, new MemoryPageService(), log));
        writer.SetPeer(PagerNode, Address(pagerHost));

        var region = memory.Regions.Single(r => r.GuestAddress == RegionStart);
        const ulong page = RegionStart / 4096 + 5;
        // Through NativeCopy, as a guest's own accesses are from KVM_RUN (see interop/Memory/NativeCopy.cs).
        var cell = region.Mapping.Address + (nint)(page * 4096 - region.GuestAddress);
        Store(cell, 0x1111);
        // The pager counts the page after the install that woke this thread.
        Poll.Until("the written page counted resident", Limit, () => pager.Metrics.ResidentPages == 1, () => pager.Metrics.Summary());

        await writer.InvalidatePageAsync(PagerNode, page).AsTask().WaitAsync(Limit);
        // Acknowledged only after the dirty copy reached its home and left guest memory.
        Assert.Equal(0x1111, HomeValue(store, page));
        Assert.Equal(0, pager.Metrics.ResidentPages);
        Assert.Equal(1, pager.Metrics.WriteBacks);

        // The writer's newer bytes at the home: the next touch faults and fetches them.
        await store.WriteAsync(Home, page, BitConverter.GetBytes(0x2222L).Concat(new byte[4088]).ToArray());
        var faults = pager.Metrics.ReadFaults;
        Assert.Equal(0x2222, Load(cell));
        Assert.Equal(faults + 1, pager.Metrics.ReadFaults);
        Assert.Equal(1, pager.Metrics.Fetches);

        var refused = await Assert.ThrowsAsync<PeerRefusedException>(() => writer.InvalidatePageAsync(PagerNode, 1UL << 52).AsTask().WaitAsync(Limit));
        Assert.EndsWith("could not invalidate page 4503599627370496: page 0x10000000000000 is not guest RAM of this VM", refused.Message);
        pager.Stop();
        Assert.Equal(0, pager.Metrics.Errors);
    }

    static long HomeValue(LocalPageStore store, ulong page)
    {
        var bytes = new byte[4096];
        Assert.True(store.ReadAsync(Home, page, bytes).IsCompletedSuccessfully);
        return BitConverter.ToInt64(bytes);
    }

    static long Load(nint cell)
    {
        Span<long> value = stackalloc long[1];
        NativeCopy.FromMemory(MemoryMarshal.AsBytes(value), cell);
        return value[0];
    }

    static void Store(nint cell, long value) => NativeCopy.ToMemory(cell, MemoryMarshal.AsBytes(new ReadOnlySpan<long>(in value)));
}
