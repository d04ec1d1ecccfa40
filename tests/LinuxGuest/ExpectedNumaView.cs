using SsiHv.Core.Topology;
using Xunit;
using CoreTopology = SsiHv.Core.Topology.Topology;
using CoreNode = SsiHv.Core.Topology.Node;
using CacheWritePolicy = SsiHv.Tests.LinuxGuest.CacheWritePolicy;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// Whether the NUMA machine a Linux guest reported (<see cref="NumaView"/>) is the one a topology describes:
/// the same check for every way the guest was booted (QEMU with our tables, our own VMM, a cluster).
/// </summary>
public static class ExpectedNumaView
{
    /// Linux 6.1's HMAT rules (drivers/acpi/numa/hmat.c): a memory target whose proximity domain attributes
    /// name an initiator is linked to that initiator only, and its access0/access1 values are that
    /// initiator's row of the latency and bandwidth structures.
    public static void AssertEquals(CoreTopology t, NumaView linux)
    {
        var present = t.Nodes.Where(n => n.Cpus > 0 || n.MemoryMiB > 0).Select(n => n.Id.Value).ToList();
        Assert.Equal(present, linux.OnlineNodes.Order());
        var cpuNodes = TopologyModule.cpuNodes(t).Select(node => node.Value).ToList();
        foreach (var node in t.Nodes)
        {
            var view = linux.Node(node.Id.Value);
            var cpus = Enumerable.Range(0, cpuNodes.Count).Where(cpu => cpuNodes[cpu] == node.Id.Value);
            Assert.Equal(cpus, view.Cpus.Order());

            var configuredKiB = node.MemoryMiB * 1024;
            // The node that holds the kernel image also loses it and early allocations (~10 % of 512 MiB): the
            // first node, or any node when a bzImage's decompressor placed the kernel elsewhere (physical KASLR;
            // seen: node 1 of two-node at 470,352 KiB of 524,288).
            var floor = configuredKiB * 85 / 100;
            Assert.InRange(view.MemTotalKiB, floor, configuredKiB);

            Assert.Equal(t.Distances[node.Id.Value], view.Distances);

            if (node.MemoryMiB > 0)
            {
                AssertAccess(t, node, view.Access0, $"node{node.Id}/access0");
                AssertAccess(t, node, view.Access1, $"node{node.Id}/access1");
            }
            var expectedCaches = t.Caches.Where(c => c.Node.Value == node.Id.Value).OrderBy(c => c.Level)
                .Select(c => new MemorySideCacheView(c.Level, (long)c.SizeBytes, c.LineBytes, Indexing(c.Associativity), Policy(c.WritePolicy)));
            Assert.Equal(expectedCaches, view.Caches.OrderBy(c => c.Level));
        }
    }

    static void AssertAccess(CoreTopology t, CoreNode target, AccessClassView? access, string where)
    {
        Assert.True(access is not null, $"{where} is missing");
        var initiator = target.Initiator!.Value.Value;
        Assert.Equal([initiator], access.Initiators);
        // Linux shows 0 for a value no HMAT structure gives.
        long latency = t.LatencyNs is null ? 0 : t.LatencyNs.Value[initiator][target.Id.Value];
        long bandwidth = t.BandwidthMBps is null ? 0 : t.BandwidthMBps.Value[initiator][target.Id.Value];
        Assert.True(latency == access.ReadLatencyNs && latency == access.WriteLatencyNs,
            $"{where}: latency {access.ReadLatencyNs}/{access.WriteLatencyNs} ns, expected {latency}");
        Assert.True(bandwidth == access.ReadBandwidthMBps && bandwidth == access.WriteBandwidthMBps,
            $"{where}: bandwidth {access.ReadBandwidthMBps}/{access.WriteBandwidthMBps} MB/s, expected {bandwidth}");
    }

    static CacheIndexing Indexing(CacheAssociativity a) =>
        a.IsDirectMapped ? CacheIndexing.DirectMapped : a.IsComplexIndexed ? CacheIndexing.Indexed : CacheIndexing.Other;

    static CacheWritePolicy Policy(SsiHv.Core.Topology.CacheWritePolicy p) =>
        p.IsWriteBack ? CacheWritePolicy.WriteBack
        : p.IsWriteThrough ? CacheWritePolicy.WriteThrough : CacheWritePolicy.Other;
}
