using SsiHv.Core.Memory;
using SsiHv.Core.Topology;
using SsiHv.Tests.LinuxGuest;
using Xunit;
using Xunit.Abstractions;
using CoreTopology = SsiHv.Core.Topology.Topology;
using CoreNode = SsiHv.Core.Topology.Node;

namespace SsiHv.Tests.Acpi;

/// <summary>
/// The judge of our tables: Debian's Linux kernel under QEMU TCG, given our SRAT, SLIT and HMAT with
/// -acpitable and no -numa option, must build exactly the topology's NUMA machine in /sys/devices/system/node.
/// </summary>
[Collection(QemuLinux.TestCollection)]
public sealed class LinuxAcceptsGeneratedTablesTests(ITestOutputHelper output)
{
    public static TheoryData<string> Topologies => new(GeneratedTables.TestTopologies);

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Linux_sees_the_topology_our_tables_describe(string topology)
    {
        using var tables = new GeneratedTables(topology);
        var t = tables.Topology;
        var boot = QemuLinux.Boot(new QemuBootOptions
        {
            MemoryMiB = checked((int)TopologyModule.totalMemoryMiB(t)),
            Cpus = TopologyModule.totalCpus(t),
            AcpiTableFiles = new[] { "SRAT", "SLIT", "HMAT" }.Select(tables.PathOf).ToList(),
        });
        output.WriteLine($"booted in {boot.Elapsed.TotalSeconds:F1} s");
        foreach (var line in boot.Numa.KernelLog)
            output.WriteLine(line);
        AssertLinuxViewEqualsTopology(t, boot.Numa);
        foreach (var signature in new[] { "SRAT", "SLIT", "HMAT" })
            Assert.True(File.ReadAllBytes(tables.PathOf(signature)).AsSpan().SequenceEqual(boot.Numa.AcpiTables[signature]),
                $"the {signature} Linux read is not the one we generated");
    }

    /// Linux 6.1's HMAT rules (drivers/acpi/numa/hmat.c): a memory target whose proximity domain attributes
    /// name an initiator is linked to that initiator only, and its access0/access1 values are that
    /// initiator's row of the latency and bandwidth structures.
    internal static void AssertLinuxViewEqualsTopology(CoreTopology t, LinuxGuest.NumaView linux)
    {
        var present = t.Nodes.Where(n => n.Cpus > 0 || n.MemoryMiB > 0).Select(n => n.Id).ToList();
        Assert.Equal(present, linux.OnlineNodes.Order());
        var firstMemoryNode = TopologyModule.memoryNodes(t).Head.Id;
        var cpuNodes = TopologyModule.cpuNodes(t).ToList();
        foreach (var node in t.Nodes)
        {
            var view = linux.Node(node.Id);
            var cpus = Enumerable.Range(0, cpuNodes.Count).Where(cpu => cpuNodes[cpu] == node.Id);
            Assert.Equal(cpus, view.Cpus.Order());

            var configuredKiB = node.MemoryMiB * 1024;
            // The first node also holds the kernel image and early allocations (~10 % of 512 MiB).
            var floor = node.Id == firstMemoryNode ? configuredKiB * 85 / 100 : configuredKiB * 95 / 100;
            Assert.InRange(view.MemTotalKiB, floor, configuredKiB);

            Assert.Equal(t.Distances[node.Id], view.Distances);

            if (node.MemoryMiB > 0)
            {
                AssertAccess(t, node, view.Access0, $"node{node.Id}/access0");
                AssertAccess(t, node, view.Access1, $"node{node.Id}/access1");
            }
            var expectedCaches = t.Caches.Where(c => c.Node == node.Id).OrderBy(c => c.Level)
                .Select(c => new MemorySideCacheView(c.Level, (long)c.SizeBytes, c.LineBytes, Indexing(c.Associativity), Policy(c.WritePolicy)));
            Assert.Equal(expectedCaches, view.Caches.OrderBy(c => c.Level));
        }
    }

    static void AssertAccess(CoreTopology t, CoreNode target, AccessClassView? access, string where)
    {
        Assert.True(access is not null, $"{where} is missing");
        var initiator = target.Initiator!.Value;
        Assert.Equal([initiator], access.Initiators);
        // Linux shows 0 for a value no HMAT structure gives.
        long latency = t.LatencyNs is null ? 0 : t.LatencyNs.Value[initiator][target.Id];
        long bandwidth = t.BandwidthMBps is null ? 0 : t.BandwidthMBps.Value[initiator][target.Id];
        Assert.True(latency == access.ReadLatencyNs && latency == access.WriteLatencyNs,
            $"{where}: latency {access.ReadLatencyNs}/{access.WriteLatencyNs} ns, expected {latency}");
        Assert.True(bandwidth == access.ReadBandwidthMBps && bandwidth == access.WriteBandwidthMBps,
            $"{where}: bandwidth {access.ReadBandwidthMBps}/{access.WriteBandwidthMBps} MB/s, expected {bandwidth}");
    }

    static CacheIndexing Indexing(CacheAssociativity a) =>
        a.IsDirectMapped ? CacheIndexing.DirectMapped : a.IsComplexIndexed ? CacheIndexing.Indexed : CacheIndexing.Other;

    static LinuxGuest.CacheWritePolicy Policy(SsiHv.Core.Topology.CacheWritePolicy p) =>
        p.IsWriteBack ? LinuxGuest.CacheWritePolicy.WriteBack
        : p.IsWriteThrough ? LinuxGuest.CacheWritePolicy.WriteThrough : LinuxGuest.CacheWritePolicy.Other;
}
