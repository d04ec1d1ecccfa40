using SsiHv.Core.Acpi;
using SsiHv.Core.Topology;
using SsiHv.Shell.Bench;
using SsiHv.Tests.LinuxGuest;
using Xunit;
using Xunit.Abstractions;
using CoreNumaView = SsiHv.Core.Acpi.NumaView;

namespace SsiHv.Tests.Acpi;

/// <summary>
/// QEMU is the peer that builds the same tables from its -numa options. For a topology and the equivalent QEMU
/// command line, the NUMA facts decoded from QEMU's SRAT/SLIT/HMAT (as Linux read them from
/// /sys/firmware/acpi/tables) must equal those decoded from ours: ranges, proximity domains, APIC IDs,
/// distances, latencies, bandwidths and caches. Revisions and QEMU's disabled placeholder entries may differ.
/// </summary>
[Collection(QemuLinux.TestCollection)]
public sealed class MatchesQemuTablesTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("three-node-memory-only")]
    [InlineData("four-node")]
    public void Our_srat_slit_hmat_describe_what_qemus_describe(string topology)
    {
        using var tables = new GeneratedTables(topology);
        var t = tables.Topology;
        var qemuArgs = QemuNumaOptions.Arguments(t);
        output.WriteLine(string.Join(' ', qemuArgs));
        var boot = QemuLinux.Boot(new QemuBootOptions
        {
            Machine = "pc,smm=off,hmat=on",
            MemoryMiB = checked((int)TopologyModule.totalMemoryMiB(t)),
            Cpus = TopologyModule.totalCpus(t),
            ExtraQemuArgs = qemuArgs,
        });

        var qemu = Decode(new[] { "SRAT", "SLIT", "HMAT" }.Select(s => (s, boot.Numa.AcpiTables[s])));
        var ours = Decode(new[] { "SRAT", "SLIT", "HMAT" }.Select(s => (s, File.ReadAllBytes(tables.PathOf(s)))));
        Assert.Equal(ours.Nodes, qemu.Nodes);
        Assert.Equal(ours.Distances, qemu.Distances);
        Assert.Equal(ours.Access, qemu.Access);
        Assert.Equal(ours.Caches, qemu.Caches);
        // And Linux, given QEMU's tables, sees the topology too: the expectations hold for both peers.
        ExpectedNumaView.AssertEquals(t, boot.Numa);
    }

    static CoreNumaView.NumaView Decode(IEnumerable<(string Name, byte[] Bytes)> files)
    {
        var decoded = TableSet.decode(Microsoft.FSharp.Collections.ListModule.OfSeq(
            files.Select(f => Tuple.Create(f.Name, f.Bytes))));
        Assert.True(decoded.Errors.IsEmpty, string.Join('\n', decoded.Errors.Select(e => Binary.AcpiErrorModule.text(e))));
        return CoreNumaView.ofTables(decoded.Tables);
    }
}
