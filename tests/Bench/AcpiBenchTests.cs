using System.Text.RegularExpressions;
using SsiHv.Core.Topology;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench acpi</c> as a real process: it names the limit that refuses 256 nodes/4096 CPUs, measures the
/// largest allowed size, reports the time against the goal and the checks. Not a timing assertion.
/// </summary>
public sealed class AcpiBenchTests
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(2);

    [Fact]
    public void The_report_names_the_refused_size_the_measured_size_the_time_and_the_checks()
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", "acpi", "--runs", "2");
        Assert.True(result.ExitCode == 0, result.ToString());
        var stdout = result.Stdout;
        Assert.Contains("requested 256 nodes × 16 CPUs = 4096 CPUs: refused by the topology limits:", stdout);
        Assert.Contains("nodes: 256 nodes; at most 64 are supported", stdout);
        Assert.Contains("measured instead: the largest size of the same shape the limits allow, 64 nodes × 16 CPUs = 1024 CPUs", stdout);
        Assert.Contains("HMAT latency and bandwidth for every initiator/target pair: 4096 pairs", stdout);
        Assert.Matches(@"in process, 2 runs after 3 warm-up runs:\n  median \d+\.\d\d ms, p99 \d+\.\d\d ms, min \d+\.\d\d ms\n", stdout);
        Assert.Matches(@"goal: median ≤ 10 ms: \d+\.\d\d ms — (MET|MISSED)", stdout);
        Assert.Contains("acpi check (decode errors, consistency): consistent", stdout);
        Assert.Matches(new Regex(@"^iasl -d (\(\S+\): every table but the RSDP disassembles without errors or warnings|: not checked: iasl is not installed)", RegexOptions.Multiline), stdout);
    }

    [Theory]
    [InlineData("--budget", "8M", "--budget does not apply to 'bench acpi'")]
    [InlineData("--pin", "0,1", "--pin does not apply to 'bench acpi'")]
    [InlineData("--runs", "0", "--runs 0: expected a whole number from 1 to 1000")]
    public void Options_of_other_benchmarks_and_bad_runs_are_bad_input(string option, string value, string message)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", "acpi", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"ssihv bench acpi: {message}", result.Stderr);
    }

    [Fact]
    public void The_requested_topology_is_refused_by_the_node_limit_only_and_the_largest_one_validates()
    {
        Assert.False(TopologyFile.TryParse("requested", AcpiBenchTopology.Json(256, 16), out _, out var problems));
        Assert.Equal([$"requested: nodes: 256 nodes; at most {Validation.maxNodes} are supported"], problems);
        var largest = AcpiBenchmark.Largest;
        Assert.True(TopologyFile.TryParse("largest", AcpiBenchTopology.Json(largest.Nodes, largest.CpusPerNode), out var topology, out problems), string.Join('\n', problems));
        Assert.Equal(Validation.maxCpus, TopologyModule.totalCpus(topology));
        Assert.Equal(Validation.maxNodes, TopologyModule.nodeCount(topology));
    }
}
