using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// Proves the harness on a case whose truth is known: QEMU generates SRAT, SLIT and HMAT from its own
/// -numa options, and the report must show exactly that topology. The same options produced
/// tests/linux-guest/qemu-reference/ (see its README).
/// </summary>
[Collection(QemuLinux.TestCollection)]
public sealed class QemuLinuxHarnessTests(ITestOutputHelper output)
{
    const long NodeMemoryKiB = 512 * 1024;

    // Two nodes of 512 MiB; node 1 is memory-only with node 0 as its initiator and a 16 MiB memory-side cache.
    static readonly QemuBootOptions QemuOwnNumaConfig = new()
    {
        Machine = "pc,smm=off,hmat=on",
        MemoryMiB = 1024,
        Cpus = 2,
        ExtraQemuArgs =
        [
            "-object", "memory-backend-ram,size=512M,id=m0",
            "-object", "memory-backend-ram,size=512M,id=m1",
            "-numa", "node,nodeid=0,cpus=0-1,memdev=m0",
            "-numa", "node,nodeid=1,memdev=m1,initiator=0",
            "-numa", "dist,src=0,dst=1,val=21",
            "-numa", "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=10",
            "-numa", "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=10G",
            "-numa", "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=20",
            "-numa", "hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=5G",
            "-numa", "hmat-cache,node-id=1,size=16M,level=1,associativity=direct,policy=write-back,line=64",
        ],
    };

    [Fact]
    public void Linux_reports_the_numa_topology_qemu_generated()
    {
        var boot = QemuLinux.Boot(QemuOwnNumaConfig);
        output.WriteLine($"booted {boot.Numa.KernelRelease} in {boot.Elapsed.TotalSeconds:F1} s");
        var numa = boot.Numa;

        Assert.True(boot.PoweredOff, "the guest did not power off by itself");
        Assert.Equal(GuestImages.Get().KernelVersion, numa.KernelRelease);
        Assert.Equal([0, 1], numa.OnlineNodes);
        Assert.Equal([0, 1], numa.Nodes.Select(n => n.Id));

        var node0 = numa.Node(0);
        var node1 = numa.Node(1);
        Assert.Equal([0, 1], node0.Cpus);
        Assert.Empty(node1.Cpus);

        // MemTotal is what is left after firmware holes and boot-time reservations; node 0 holds the
        // legacy hole, the kernel image and most early allocations, so it loses more (about 10 %).
        Assert.InRange(node0.MemTotalKiB, NodeMemoryKiB * 85 / 100, NodeMemoryKiB);
        Assert.InRange(node1.MemTotalKiB, NodeMemoryKiB * 95 / 100, NodeMemoryKiB);

        Assert.Equal([10, 21], node0.Distances);
        Assert.Equal([21, 10], node1.Distances);

        AssertAccess(node0.Access0, latencyNs: 10, bandwidthMBps: 10 * 1024);
        AssertAccess(node0.Access1, latencyNs: 10, bandwidthMBps: 10 * 1024);
        AssertAccess(node1.Access0, latencyNs: 20, bandwidthMBps: 5 * 1024);
        AssertAccess(node1.Access1, latencyNs: 20, bandwidthMBps: 5 * 1024);

        Assert.Empty(node0.Caches);
        var cache = Assert.Single(node1.Caches);
        Assert.Equal(new MemorySideCacheView(1, 16 << 20, 64, CacheIndexing.DirectMapped, CacheWritePolicy.WriteBack), cache);

        foreach (var signature in new[] { "APIC", "FACP", "DSDT", "SRAT", "SLIT", "HMAT" })
            AssertTableDumped(numa, signature);
        foreach (var signature in new[] { "SRAT", "SLIT", "HMAT" })
        {
            var reference = Path.Combine(GuestImages.RepoRoot, "tests", "linux-guest", "qemu-reference", $"{signature}.dat");
            Assert.True(
                File.ReadAllBytes(reference).AsSpan().SequenceEqual(numa.AcpiTables[signature]),
                $"{signature} differs from {reference}; if QEMU changed, regenerate it as its README says");
        }
    }

    static void AssertAccess(AccessClassView? access, long latencyNs, long bandwidthMBps)
    {
        Assert.NotNull(access);
        Assert.Equal([0], access.Initiators);
        Assert.Equal(latencyNs, access.ReadLatencyNs);
        Assert.Equal(latencyNs, access.WriteLatencyNs);
        Assert.Equal(bandwidthMBps, access.ReadBandwidthMBps);
        Assert.Equal(bandwidthMBps, access.WriteBandwidthMBps);
    }

    // The dump must be the table's exact bytes: signature first, and as long as its header says.
    static void AssertTableDumped(NumaView numa, string signature)
    {
        Assert.True(numa.AcpiTables.TryGetValue(signature, out var table), $"{signature} was not dumped");
        Assert.Equal(signature, Encoding.ASCII.GetString(table, 0, 4));
        Assert.Equal(BitConverter.ToUInt32(table, 4), (uint)table.Length);
    }
}
