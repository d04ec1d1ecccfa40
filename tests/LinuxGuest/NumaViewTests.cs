using System.Text;
using Xunit;

namespace SsiHv.Tests.LinuxGuest;

public sealed class NumaViewTests
{
    [Fact]
    public void Parse_reads_a_report_surrounded_by_console_noise()
    {
        var srat = Encoding.ASCII.GetBytes("SRAT-bytes");
        var console = new[]
        {
            "SeaBIOS (version 1.16.2)",
            "\u001bc\u001b[?7l\u001b[2J" + NumaView.BeginMarker + "\r",
            "kernel 6.1.0-56-amd64",
            "online 0-1",
            "node 0 cpulist 0-2,5",
            "node 0 memtotal_kib 469112",
            "node 0 distance 10 21",
            "node 0 access0 initiators 0 ",
            "node 0 access0 read_latency 10",
            "node 1 cpulist ",
            "node 1 memtotal_kib 513724",
            "node 1 distance 21 10",
            "node 1 cache 1 size 16777216",
            "node 1 cache 1 line_size 64",
            "node 1 cache 1 indexing 1",
            "node 1 cache 1 write_policy 1",
            $"acpi SRAT {Convert.ToBase64String(srat)}",
            "log [    0.000000] ACPI: SRAT: Node 1 PXM 1 [mem 0x20000000-0x3fffffff]",
            NumaView.EndMarker + "\r",
            "[    3.233075] reboot: Power down",
        };

        var numa = NumaView.Parse(console);

        Assert.Equal("6.1.0-56-amd64", numa.KernelRelease);
        Assert.Equal([0, 1, 2, 5], numa.Node(0).Cpus);
        Assert.Equal(469112, numa.Node(0).MemTotalKiB);
        var access0 = Assert.IsType<AccessClassView>(numa.Node(0).Access0);
        Assert.Equal([0], access0.Initiators);
        Assert.Equal(10, access0.ReadLatencyNs);
        Assert.Null(access0.ReadBandwidthMBps);
        Assert.Null(numa.Node(0).Access1);
        Assert.Empty(numa.Node(1).Cpus);
        Assert.Equal(
            new MemorySideCacheView(1, 16 << 20, 64, CacheIndexing.Indexed, CacheWritePolicy.WriteThrough),
            Assert.Single(numa.Node(1).Caches));
        Assert.Equal(srat, numa.AcpiTables["SRAT"]);
        Assert.Single(numa.KernelLog);
    }
}
