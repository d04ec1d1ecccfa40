using SsiHv.Core.Topology;
using SsiHv.Tests.LinuxGuest;
using Xunit;
using Xunit.Abstractions;
using CoreTopology = SsiHv.Core.Topology.Topology;

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
        ExpectedNumaView.AssertEquals(t, boot.Numa);
        foreach (var signature in new[] { "SRAT", "SLIT", "HMAT" })
            Assert.True(File.ReadAllBytes(tables.PathOf(signature)).AsSpan().SequenceEqual(boot.Numa.AcpiTables[signature]),
                $"the {signature} Linux read is not the one we generated");
    }
}
