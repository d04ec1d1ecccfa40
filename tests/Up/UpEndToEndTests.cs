using System.Text.RegularExpressions;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Cluster;
using SsiHv.Tests.Support;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Up;

/// <summary>
/// `ssihv up --guest probe` forms a real 2- and 3-node cluster on this machine, on loopback and in network
/// namespaces, and runs the probe guest to power-off: the guest sees every node, memtests all of its memory
/// (so the memory nodes' pages are fetched over the transport, because the boot node keeps only half of its
/// own memory resident), and the summary shows pages stored on every memory node, remote fault latencies and
/// bytes moved to every peer. Each run ends with nothing left behind.
/// </summary>
[Collection(NetworkNamespacesCollection.Name)]
public sealed partial class UpEndToEndTests(ITestOutputHelper output) : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    [Trait(Needs.Trait, Needs.Kvm)]
    [Theory]
    [InlineData(2, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void TheProbeGuestRunsToPowerOffOnTheCluster(int nodeCount, bool netns)
    {
        if (netns)
            NetworkNamespacesCollection.WaitUntilSubnetIsFree();
        var basePort = LoopbackPorts.FreeUpBase(nodeCount);
        var topology = files.Topology(Topology(nodeCount, basePort), $"cluster{nodeCount}.json");
        string[] arguments = ["up", "--topology", topology, "--guest", "probe", "--timeout", TestScale.SecondsArgument(240), "--start-timeout", TestScale.SecondsArgument(60),
            "--timeout-scale", TestScale.Scale.ToString(System.Globalization.CultureInfo.InvariantCulture), .. (netns ? new[] { "--netns" } : [])];

        var run = CliRun.AsProcess(TestScale.Minutes(6), arguments);
        output.WriteLine(run.ToString());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ssihv up: the guest powered off", run.Stdout);
        var report = new ProbeReport(run.Stdout);
        Assert.Equal(nodeCount, report.Single("numa").GetProperty("nodes").GetArrayLength());
        MemtestVerdict.AssertEveryNodeVerified(run.Stdout, nodeCount);

        var rows = PageRow().Matches(run.Stdout).ToDictionary(m => int.Parse(m.Groups[1].Value), m => Count(m.Groups[3].Value));
        Assert.Equal(Enumerable.Range(0, nodeCount), rows.Keys.Order());
        foreach (var node in Enumerable.Range(1, nodeCount - 1))
        {
            Assert.True(rows[node] > 0, $"node {node} stores no pages\n{run}");
            Assert.Matches($@"ssihv up:   node {node}: sent [\d.,]+ (B|MiB), received [\d.,]+ (B|MiB); fetches over TCP", run.Stdout);
        }
        Assert.Matches(@"ssihv up: remote fault latency: p50 [\d.]+ µs, p99 [\d.]+ µs", run.Stdout);
        for (var node = 0; node < nodeCount; node++)
            Assert.Contains($"ssihv up: node {node} is up", run.Stderr);

        var prefix = NamespacePrefix().Match(run.Stderr);
        Assert.Equal(netns, prefix.Success);
        if (prefix.Success)
        {
            Assert.DoesNotContain(prefix.Groups[1].Value, SsiHv.Tests.Support.ExternalProcess.Output("ip", "netns", "list"));
            Assert.DoesNotContain(prefix.Groups[1].Value, SsiHv.Tests.Support.ExternalProcess.Output("ip", "-o", "link"));
        }
    }

    /// Node 0 runs both vCPUs; every node homes 256 MiB (small, so the run stays short; an eighth in a lab machine).
    static string Topology(int nodeCount, int basePort)
    {
        var nodes = Enumerable.Range(0, nodeCount).Select(id => id == 0
            ? $$"""{ "id": 0, "cpus": 2, "memoryMiB": {{TestScale.GuestMiB(256)}}, "address": "127.0.0.1:{{basePort}}" }"""
            : $$"""{ "id": {{id}}, "cpus": 0, "memoryMiB": {{TestScale.GuestMiB(256)}}, "address": "127.0.0.1:{{basePort + id}}", "initiator": 0 }""");
        return $$"""{ "name": "up-{{nodeCount}}", "nodes": [ {{string.Join(", ", nodes)}} ] }""";
    }

    static long Count(string text) => long.Parse(text.Replace(",", ""));

    /// "ssihv up:   1  65,536  65,536  0": node, homed, stored, resident.
    [GeneratedRegex(@"^ssihv up:\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex PageRow();

    [GeneratedRegex(@"network namespaces (ssihv\d+)n0")]
    private static partial Regex NamespacePrefix();
}
