using SsiHv.Core.Topology;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Tests.Vmm;

/// <summary>
/// Debian's stock kernel under our VMM: <c>ssihv run</c> boots it with the harness initramfs, through PVH (the
/// ELF <c>vmlinux</c>) and through the bzImage, to user space, where init reports the NUMA machine it sees and
/// powers off. The report must equal the topology (the check the QEMU runs of our tables use), every CPU must be
/// online, and the kernel may log no warning or error that it does not log under QEMU with KVM in the same place.
/// </summary>
[Trait(Needs.Trait, Needs.Kvm)]
[Collection(VmmTestCollection.Name)]
public sealed class LinuxBootTests(ITestOutputHelper output)
{
    /// Hang guard for one boot; a boot takes about 15 s of guest time (over a minute in a lab machine).
    static readonly TimeSpan BootTimeout = TestScale.Seconds(90);

    public static TheoryData<string, string> Boots => new()
    {
        { "two-node", "vmlinux" },
        { "three-node-memory-only", "vmlinux" },
        { "four-node", "vmlinux" },
        { "two-node", "vmlinuz" },
    };

    [KvmHostTheory]
    [MemberData(nameof(Boots))]
    public void Stock_Linux_boots_to_user_space_sees_the_topology_with_every_cpu_online_and_powers_off(string topology, string kernel)
    {
        var (t, run) = Boot(topology, kernel);

        Assert.True(run.Result.ExitCode == 0 && run.Result.Stdout.Contains("ssihv run: the guest powered off"),
            $"ssihv run did not end with the guest's power-off:\n{Tail(run)}");
        Assert.True(run.Numa is not null, $"no complete report from init: {run.ReportProblem}\n{Tail(run)}");
        ExpectedNumaView.AssertEquals(t, run.Numa);
        Assert.Equal(Enumerable.Range(0, TopologyModule.totalCpus(t)), run.Numa.OnlineCpus.Order());
    }

    [KvmHostFact]
    public void Linux_logs_no_warning_or_error_under_our_VMM_that_it_does_not_log_under_QEMU()
    {
        var (t, ours) = Boot("four-node", "vmlinux");
        Assert.True(ours.Numa is not null, $"no complete report from init under our VMM: {ours.ReportProblem}\n{Tail(ours)}");

        var images = GuestImages.Get();
        var qemu = QemuLinux.Boot(new QemuBootOptions
        {
            Accelerator = "kvm",
            CpuModel = "host",
            Machine = QemuNumaOptions.DescribesHmat(t) ? "pc,smm=off,hmat=on" : "pc,smm=off",
            Cpus = TopologyModule.totalCpus(t),
            MemoryMiB = checked((int)TopologyModule.totalMemoryMiB(t)),
            ExtraQemuArgs = QemuNumaOptions.Arguments(t),
            Timeout = BootTimeout,
        });
        output.WriteLine($"QEMU -accel kvm booted {images.KernelVersion} in {qemu.Elapsed.TotalSeconds:F1} s; its warnings and errors:");
        foreach (var line in qemu.Numa.Problems)
            output.WriteLine($"  {line}");

        var unmatched = KernelProblems.Unmatched(ours.Numa.Problems, qemu.Numa.Problems);
        Assert.True(unmatched.Count == 0,
            $"under our VMM Linux logged {unmatched.Count} warning/error lines that QEMU's boot does not have:\n{string.Join('\n', unmatched)}");
    }

    (CoreTopology Topology, OurLinuxRun Run) Boot(string topology, string kernel)
    {
        var images = GuestImages.Get();
        var topologyPath = TestFiles.TopologyPath(topology);
        Assert.True(TopologyFile.TryLoad(topologyPath, out var t, out var problems), string.Join('\n', problems));
        var kernelPath = kernel == "vmlinux" ? images.KernelPath : images.CompressedKernelPath;
        var run = OurVmmLinux.Boot(topologyPath, kernelPath, BootTimeout);
        output.WriteLine($"ssihv run --topology {topology}.json --kernel {kernel} ({images.KernelVersion}): exit {run.Result.ExitCode}");
        if (run.Numa is { } numa)
        {
            output.WriteLine($"online CPUs {string.Join(",", numa.OnlineCpus)}, nodes {string.Join(",", numa.OnlineNodes)}; warnings and errors:");
            foreach (var line in numa.Problems)
                output.WriteLine($"  {line}");
        }
        output.WriteLine($"--- stderr\n{run.Result.Stderr}");
        return (t, run);
    }

    static string Tail(OurLinuxRun run) =>
        $"exit {run.Result.ExitCode}\n--- last console lines\n{string.Join('\n', run.ConsoleLines.TakeLast(40))}\n--- stderr\n{run.Result.Stderr}";
}
