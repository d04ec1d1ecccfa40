using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using Xunit;

namespace SsiHv.Tests.SlowLinux;

/// <summary>
/// The pure helpers of the slow Linux test, checked fast (these are in the default suite): the expected SRAT
/// lines against what Linux 6.1 really printed for tests/topologies/two-node.json, and the instruction names
/// against the bytes our failure report showed.
/// </summary>
public sealed class SlowLinuxHelperTests
{
    static Core.Topology.Topology Load(string name)
    {
        var path = Path.Combine(TestFiles.RepoRoot, "tests", "topologies", name + ".json");
        Assert.True(TopologyFile.TryLoad(path, out var topology, out var problems), string.Join('\n', problems));
        return topology;
    }

    /// Copied from Debian's 6.1.0 kernel log under `ssihv run` on this host.
    const string RealLog = """
        [   12.956565] ACPI: Reserving SRAT table memory at [mem 0xe02e0-0xe03a7]
        [   13.199036] SRAT: PXM 0 -> APIC 0x00 -> Node 0
        [   13.240811] SRAT: PXM 1 -> APIC 0x01 -> Node 1
        [   13.271417] ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x0009ffff]
        [   13.292496] ACPI: SRAT: Node 0 PXM 0 [mem 0x00100000-0x1fffffff]
        [   13.310961] ACPI: SRAT: Node 1 PXM 1 [mem 0x20000000-0x3fffffff]
        [   13.357930] NUMA: Initialized distance table, cnt=2
        """;

    [Fact]
    public void Expected_lines_for_two_node_are_the_ones_Linux_printed()
    {
        var topology = Load("two-node");
        Assert.Equal(ExpectedSratLog.MemoryLines(topology), ExpectedSratLog.MemoryLinesIn(RealLog));
        Assert.Equal(ExpectedSratLog.CpuLines(topology), ExpectedSratLog.CpuLinesIn(RealLog));
    }

    [Fact]
    public void Memory_above_4_GiB_gets_more_than_eight_digits_and_memory_only_nodes_are_numbered_after_cpu_nodes()
    {
        Assert.Equal("0x00000000", ExpectedSratLog.Hex010(0));
        Assert.Equal("0x0009ffff", ExpectedSratLog.Hex010(0x9FFFF));
        Assert.Equal("0x13fffffff", ExpectedSratLog.Hex010(0x13FFFFFFF));
        foreach (var name in new[] { "one-node", "three-node-memory-only", "four-node" })
        {
            var topology = Load(name);
            var nodes = ExpectedSratLog.LinuxNodes(topology);
            var cpuPxms = Core.Topology.TopologyModule.cpuNodes(topology).Distinct().ToList();
            Assert.Equal(Enumerable.Range(0, cpuPxms.Count), cpuPxms.Select(p => nodes[p]));
            Assert.Equal(Core.Memory.Layout.ranges(topology).Length, ExpectedSratLog.MemoryLines(topology).Count);
        }
    }

    [Theory]
    [InlineData("F0480FC74D2074664C8B4424084D89F7", "lock cmpxchg16b")]
    [InlineData("F00FC70E", "lock cmpxchg8b")]
    [InlineData("CC90", "int3")]
    [InlineData("0F01D9", "vmmcall")]
    [InlineData("0F01C1", "vmcall")]
    [InlineData("480FAE27", "xsave64")]
    [InlineData("480FAE2F", "xrstor64")]
    [InlineData("0FAE07", "fxsave")]
    [InlineData("0FAEF0", "mfence")]
    [InlineData("9B", "fwait (x87)")]
    [InlineData("DBE3", "fninit (x87)")]
    [InlineData("0F0B", "ud2")]
    [InlineData("0F30", "wrmsr")]
    public void Stopping_instructions_are_named(string hex, string name) =>
        Assert.Equal(name, StoppingInstruction.Decode(Convert.FromHexString(hex)));

    [Fact]
    public void A_failure_report_gives_exit_rip_and_instruction()
    {
        const string report = """
            ssihv run: the guest failed:
            vCPU 0: KVM internal error, suberror 1 (1 = emulation failure: an instruction KVM cannot emulate on this host)
              RIP FFFFFFFF8132AE50  RFLAGS 0000000000000006  RSP FFFFFFFF82A03CD8  RBP FFFFEA0000121000
              CS 0010 base 0 L=1 D=0  CR0 80050033  CR2 FFFF888004400000  CR3 2A10000  CR4 100B0  EFER D01
              bytes at RIP (guest-physical 0x132AE50): F0480FC74D2074664C8B4424084D89F7
            """;
        var stopped = StoppingInstruction.FromReport(report);
        Assert.NotNull(stopped);
        Assert.Equal(0xFFFFFFFF8132AE50UL, stopped.Rip);
        Assert.Equal("lock cmpxchg16b", stopped.Name);
        Assert.StartsWith("KVM internal error, suberror 1", stopped.Exit);
        Assert.Null(StoppingInstruction.FromReport("ssihv run: the guest powered off"));
    }
}
