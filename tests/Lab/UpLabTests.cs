using System.Diagnostics;
using System.Text.RegularExpressions;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Cluster;
using SsiHv.Tests.Up;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Lab;

/// <summary>
/// `ssihv up --lab` as run.sh runs it on a host without KVM: two node hosts, each in its own lab machine on a tap
/// of one bridge, form the cluster, the probe guest memtests every page of both nodes (node 1's over RDMA READs
/// between the machines' soft-RoCE devices) and powers off; afterwards no machine, tap or bridge is left.
/// Sized small (2 × 16 MiB) because every page is written at TCG speed through a nested KVM. In the namespace
/// tests' collection: `up --lab` takes the same subnet. (Linux across lab machines: tests/Up/UpLinuxTests.cs.)
/// </summary>
[Collection(NetworkNamespacesCollection.Name)]
public sealed class UpLabTests(ITestOutputHelper output) : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    [Fact]
    public void Two_lab_machines_run_the_probe_guest_to_power_off_with_pages_fetched_over_rdma()
    {
        NetworkNamespacesCollection.WaitUntilSubnetIsFree();
        var topology = files.Topology("""
            { "name": "up-lab", "nodes": [
              { "id": 0, "cpus": 2, "memoryMiB": 16, "address": "127.0.0.1:7300" },
              { "id": 1, "cpus": 0, "memoryMiB": 16, "address": "127.0.0.1:7301", "initiator": 0 } ] }
            """, "up-lab.json");

        var run = CliRun.AsProcess(TimeSpan.FromMinutes(15), "up", "--lab", "--topology", topology, "--guest", "probe");
        output.WriteLine(run.ToString());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ssihv up: the guest powered off", run.Stdout);
        Assert.Equal(2, new ProbeReport(run.Stdout).Single("numa").GetProperty("nodes").GetArrayLength());
        MemtestVerdict.AssertEveryNodeVerified(run.Stdout, 2);
        Assert.Contains("ssihv up:   node 1: sent", run.Stdout);
        Assert.Contains("fetches over RDMA READ over rxe0", run.Stdout);
        Assert.Contains("[node 0] ssihv lab: starting a lab machine (2 CPUs", run.Stderr);
        Assert.Contains("[node 1] ssihv lab: starting a lab machine (1 CPUs", run.Stderr);

        AssertNothingLeft(run);
    }

    static void AssertNothingLeft(CliResult run)
    {
        var bridge = Regex.Match(run.Stderr, @"of bridge (ssihv\d+br)");
        Assert.True(bridge.Success, run.Stderr);
        var prefix = bridge.Groups[1].Value[..^2];
        Assert.DoesNotContain(prefix, Support.ExternalProcess.Output("ip", "-o", "link"));
        Assert.DoesNotContain(Process.GetProcessesByName("qemu-system-x86_64"),
            p => File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(prefix, StringComparison.Ordinal));
    }
}
