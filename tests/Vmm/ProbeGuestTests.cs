using System.Text.Json;
using SsiHv.Core.Memory;
using SsiHv.Core.Topology;
using SsiHv.Tests.Acpi;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Tests.Vmm;

/// <summary>
/// The probe guest under our VMM on this host's KVM, through `ssihv run` as a user runs it: what it reads from
/// our ACPI tables must be the topology, every AP must come up with its APIC ID, the memory test must pass on
/// every node's memory, and the guest must power itself off through ACPI (exit 0).
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class ProbeGuestTests(ITestOutputHelper output)
{
    public static TheoryData<string> Topologies => new(GeneratedTables.TestTopologies);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Theory]
    [MemberData(nameof(Topologies))]
    public void The_probe_sees_the_topology_starts_every_cpu_tests_all_memory_and_powers_off(string topology)
    {
        var path = TestFiles.TopologyPath(topology);
        Assert.True(SsiHv.Shell.Topology.TopologyFile.TryLoad(path, out var t, out var problems), string.Join('\n', problems));
        var run = CliRun.AsProcess(TestScale.Minutes(3), "run", "--topology", path, "--guest", "probe", "--timeout", TestScale.SecondsArgument(150));
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("the guest powered off", run.Stdout);

        var report = new ProbeReport(run.Stdout);
        AssertNumaEqualsTopology(t, report.Single("numa"));
        AssertEveryCpuOnline(t, report);
        AssertMemtestCoversEveryNode(t, report);
        Assert.Empty(report.All("error"));
        var poweroff = report.Single("poweroff");
        Assert.Equal(Core.Acpi.Facp.pm1aControlPort, poweroff.GetProperty("port").GetUInt16());
    }

    static void AssertNumaEqualsTopology(CoreTopology t, JsonElement numa)
    {
        var cpuNodes = TopologyModule.cpuNodes(t).Select(node => node.Value).ToList();
        var expectedNodes = t.Nodes.Where(n => n.Cpus > 0 || n.MemoryMiB > 0).Select(n => n.Id.Value).ToList();
        var nodes = numa.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(expectedNodes, nodes.Select(n => n.GetProperty("node").GetInt32()));
        foreach (var node in nodes)
        {
            var id = node.GetProperty("node").GetInt32();
            var apicIds = ProbeReport.Numbers(node.GetProperty("apicIds"));
            Assert.Equal(Enumerable.Range(0, cpuNodes.Count).Where(cpu => cpuNodes[cpu] == id).Select(cpu => (ulong)cpu), apicIds);
            var ranges = node.GetProperty("ranges").EnumerateArray().Select(r => (r[0].GetUInt64(), r[1].GetUInt64())).ToList();
            Assert.Equal(Layout.rangesOfNode(t, NodeId.NewNodeId(id)).Select(r => (r.Base, r.Length)), ranges);
        }
        var distances = numa.GetProperty("distances").EnumerateArray().Select(row => row.EnumerateArray().Select(d => d.GetInt32()).ToList()).ToList();
        Assert.Equal(t.Distances.Select(row => row.ToList()), distances);

        var access = numa.GetProperty("access").EnumerateArray()
            .Select(a => (a.GetProperty("initiator").GetInt32(), a.GetProperty("target").GetInt32(),
                Optional(a.GetProperty("latencyNs")), Optional(a.GetProperty("bandwidthMBps"))))
            .ToList();
        var expectedAccess =
            (from i in TopologyModule.initiatorNodes(t)
             from j in TopologyModule.memoryNodes(t)
             where t.LatencyNs is not null || t.BandwidthMBps is not null
             select (i.Id.Value, j.Id.Value,
                 t.LatencyNs is null ? (long?)null : t.LatencyNs.Value[i.Id.Value][j.Id.Value],
                 t.BandwidthMBps is null ? (long?)null : t.BandwidthMBps.Value[i.Id.Value][j.Id.Value])).ToList();
        Assert.Equal(expectedAccess, access);

        var caches = numa.GetProperty("caches").EnumerateArray()
            .Select(c => (c.GetProperty("node").GetInt32(), c.GetProperty("sizeBytes").GetUInt64(), c.GetProperty("level").GetInt32(), c.GetProperty("lineBytes").GetInt32()))
            .ToList();
        Assert.Equal(t.Caches.OrderBy(c => c.Node).ThenBy(c => c.Level).Select(c => (c.Node.Value, c.SizeBytes, c.Level, c.LineBytes)), caches);

        Assert.Equal(Enumerable.Range(0, cpuNodes.Count).Select(i => (ulong)i), ProbeReport.Numbers(numa.GetProperty("madtApicIds")));
        Assert.Equal(Core.Acpi.Dsdt.s5SleepType, numa.GetProperty("s5").GetByte());
    }

    static long? Optional(JsonElement value) => value.ValueKind == JsonValueKind.Null ? null : value.GetInt64();

    /// APs run their report at CPL0, where KVM answers CPUID with the identity we set; the BSP's report runs
    /// at CPL3, where kvm_pvm executes CPUID natively (docs/design.md §6), so only its LAPIC ID is checked.
    static void AssertEveryCpuOnline(CoreTopology t, ProbeReport report)
    {
        var cpuNodes = TopologyModule.cpuNodes(t).Select(node => node.Value).ToList();
        var cpus = report.All("cpu").ToList();
        Assert.Equal(Enumerable.Range(0, cpuNodes.Count), cpus.Select(c => c.GetProperty("apicId").GetInt32()).Order());
        foreach (var cpu in cpus)
        {
            var apicId = cpu.GetProperty("apicId").GetInt32();
            Assert.Equal(cpuNodes[apicId], cpu.GetProperty("node").GetInt32());
            if (apicId != 0)
                Assert.Equal(apicId, cpu.GetProperty("cpuidApicId").GetInt32());
        }
        var summary = report.Single("cpus");
        Assert.Equal(cpuNodes.Count, summary.GetProperty("expected").GetInt32());
        Assert.Equal(cpuNodes.Count, summary.GetProperty("online").GetInt32());
    }

    /// Every page of every node is written and verified, except the few the probe itself occupies on the
    /// first node (its image, stacks, page tables, trampoline), hence the 98 % floor there.
    static void AssertMemtestCoversEveryNode(CoreTopology t, ProbeReport report)
    {
        var memtests = report.All("memtest").ToDictionary(m => m.GetProperty("node").GetInt32());
        foreach (var node in TopologyModule.memoryNodes(t))
        {
            Assert.True(memtests.TryGetValue(node.Id.Value, out var memtest), $"no memtest line for node {node.Id}");
            var nodePages = Layout.rangesOfNode(t, node.Id).Sum(r => (long)(r.Length / 4096));
            var tested = memtest.GetProperty("pages").GetInt64();
            Assert.InRange(tested, nodePages * 98 / 100, nodePages);
            Assert.Equal(0, memtest.GetProperty("mismatches").GetInt64());
        }
        var summary = report.Single("memtest-summary");
        Assert.Equal(0, summary.GetProperty("mismatches").GetInt64());
    }
}
