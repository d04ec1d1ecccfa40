using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Cluster;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Up;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Lab;

/// <summary>
/// `ssihv up --lab` as run.sh runs it on a host without KVM: two node hosts, each in its own lab machine on a tap
/// of one bridge, form the cluster, the guest (the probe, or Linux with the NUMA memtest guest) tests the memory
/// of both nodes (node 1's fetched over RDMA READs between the machines' soft-RoCE devices) and powers off;
/// afterwards no machine, tap or bridge is left. The probe's run is sized small (2 × 16 MiB) because every page
/// is written at TCG speed through a nested KVM. In the namespace tests' collection: `up --lab` takes the same
/// subnet.
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

    /// The headline demo (README): Debian's stock kernel boots across the two machines with the boot node's
    /// memory budget below the guest's RAM, and the NUMA memtest guest's program, bound to each node with mbind,
    /// writes and verifies 70% of each node's free memory; the pages go to the memory node and come back.
    [Fact]
    public void Linux_runs_across_two_lab_machines_and_its_numa_memtest_passes_on_every_node()
    {
        NetworkNamespacesCollection.WaitUntilSubnetIsFree();
        var images = GuestImages.Get();

        var run = CliRun.AsProcess(TimeSpan.FromMinutes(30), "up", "--lab",
            "--kernel", images.KernelPath, "--initrd", images.NumaMemtestInitramfsPath, "--append", "console=ttyS0 quiet panic=-1");
        output.WriteLine(run.ToString());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ssihv up: the guest powered off", run.Stdout);
        Assert.Contains("numa-memtest: Linux " + images.KernelVersion + ", CPUs online 0-1, nodes 0-1", run.Stdout);
        var pass = Regex.Match(run.Stdout, @"numa-memtest: PASS: 2 node\(s\), ([\d.]+) MiB tested, 0 mismatches, 0 pages off their node");
        Assert.True(pass.Success, run.Stdout);
        // Each 128 MiB node has well over 40 MiB free once Linux is up; 70% of it is tested.
        Assert.True(double.Parse(pass.Groups[1].Value, CultureInfo.InvariantCulture) > 80, pass.Value);
        foreach (var node in new[] { 0, 1 })
            Assert.Matches($@"numa-memtest: node {node}: [\d.]+ MiB written .* mismatches 0; pages on node {node}: (\d+) of \1", run.Stdout);
        // Pages went to the memory node (evicted from the boot node's budget) and came back (fetched).
        var moved = Regex.Match(run.Stdout, @"ssihv up:   node 1: sent ([\d.]+) MiB, received ([\d.]+) MiB");
        Assert.True(moved.Success, run.Stdout);
        Assert.True(double.Parse(moved.Groups[1].Value, CultureInfo.InvariantCulture) > 1
            && double.Parse(moved.Groups[2].Value, CultureInfo.InvariantCulture) > 1, moved.Value);
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
