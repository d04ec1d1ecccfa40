using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Tests.Cli;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Up;

/// <summary>
/// The headline demo (README): `ssihv up --netns --kernel vmlinux --initrd numa-memtest.cpio.gz` boots Debian's
/// stock kernel across two node hosts, each in its own network namespace, with the boot node's memory budget
/// below the guest's RAM; the NUMA memtest guest's program, bound to each node with mbind, writes and verifies
/// 70% of each node's free memory, so pages go to the memory node and come back. On hosts without KVM the same
/// command with --lab runs it in lab machines, where SMP Linux is not reliable enough to judge (KvmHost).
/// </summary>
[Collection(NetworkNamespacesCollection.Name)]
public sealed class UpLinuxTests(ITestOutputHelper output)
{
    [Trait(Needs.Trait, Needs.Kvm)]
    [KvmHostFact]
    public void Linux_runs_on_the_cluster_and_its_numa_memtest_passes_on_every_node()
    {
        NetworkNamespacesCollection.WaitUntilSubnetIsFree();
        var images = GuestImages.Get();

        var run = CliRun.AsProcess(TestScale.Minutes(15), "up", "--netns",
            "--kernel", images.KernelPath, "--initrd", images.NumaMemtestInitramfsPath, "--append", "console=ttyS0 quiet panic=-1");
        output.WriteLine(run.ToString());

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ssihv up: the guest powered off", run.Stdout);
        Assert.Contains($"numa-memtest: Linux {images.KernelVersion}, CPUs online 0-1, nodes 0-1", run.Stdout);
        var pass = Regex.Match(run.Stdout, @"numa-memtest: PASS: 2 node\(s\), ([\d.]+) MiB tested, 0 mismatches, 0 pages off their node");
        Assert.True(pass.Success, run.Stdout);
        foreach (var node in new[] { 0, 1 })
            Assert.Matches($@"numa-memtest: node {node}: [\d.]+ MiB written .* mismatches 0; pages on node {node}: (\d+) of \1", run.Stdout);
        // Pages went to the memory node (evicted past the boot node's budget) and came back (fetched).
        var moved = Regex.Match(run.Stdout, @"ssihv up:   node 1: sent ([\d.]+) MiB, received ([\d.]+) MiB");
        Assert.True(moved.Success, run.Stdout);
        Assert.True(double.Parse(moved.Groups[1].Value, CultureInfo.InvariantCulture) > 1
            && double.Parse(moved.Groups[2].Value, CultureInfo.InvariantCulture) > 1, moved.Value);
    }
}
