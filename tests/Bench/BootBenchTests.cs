using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Tests.Cli;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench boot</c> as a real process, one run per VMM: the probe guest, and Debian's kernel with the
/// harness initramfs timed to the first line its init prints (on hosts with their own KVM: KvmHost). Not a timing assertion: every row must be there
/// with positive figures, and the ratio lines must be printed.
/// </summary>
public sealed class BootBenchTests(ITestOutputHelper output)
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(6);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void The_probe_guest_is_timed_in_both_VMMs()
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", "boot", "--runs", "1");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        AssertReport(result.Stdout, "first PROBE");
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [KvmHostFact]
    public void Linux_is_timed_to_its_init_s_first_line_in_both_VMMs()
    {
        var images = GuestImages.Get();
        var result = CliRun.AsProcess(BenchTimeout, "bench", "boot", "--runs", "1",
            "--kernel", images.KernelPath, "--initrd", images.InitramfsPath, "--ready-line", "SSIHV-NUMA-BEGIN");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"kernel {images.KernelPath}, initrd {images.InitramfsPath}, timed to the line \"SSIHV-NUMA-BEGIN\"", result.Stdout);
        Assert.Matches(@"QEMU: .*qemu-system-x86_64 .*-cpu host .*-kernel \S+vmlinux -initrd ", result.Stdout);
        AssertReport(result.Stdout, "ready line");
    }

    static void AssertReport(string stdout, string ready)
    {
        foreach (var label in new[] { "1", "median", "min" })
        {
            var row = Regex.Match(stdout, $@"^{label}\s+([\d.]+) ms\s+([\d.]+) ms\s+([\d.]+) ms\s+([\d.]+) ms$", RegexOptions.Multiline);
            Assert.True(row.Success, $"no row '{label}' in:\n{stdout}");
            for (var group = 1; group <= 4; group++)
                Assert.True(double.Parse(row.Groups[group].Value, CultureInfo.InvariantCulture) > 0, row.Value);
        }
        Assert.Matches($@"ours/QEMU, median: {ready} \d+\.\d\dx, exit \d+\.\d\dx", stdout);
        Assert.Contains($"BSP's first KVM_RUN -> {ready} line (guest code)", stdout);
    }

    [Theory]
    [InlineData(new[] { "--initrd", "x.cpio" }, "ssihv bench boot: --initrd needs --kernel FILE")]
    [InlineData(new[] { "--ready-line", "x" }, "ssihv bench boot: --ready-line needs --kernel FILE")]
    [InlineData(new[] { "--kernel", "/nonexistent/vmlinux" }, "ssihv bench boot: --kernel /nonexistent/vmlinux: cannot read: No such file or directory")]
    [InlineData(new[] { "--kernel", "/dev/zero" }, "ssihv bench boot: --kernel /dev/zero: is a character device, not a regular file")]
    [InlineData(new[] { "--kernel", "/etc/hostname", "--ready-line", "" }, "ssihv bench: --ready-line needs a non-empty value")]
    [InlineData(new[] { "--pin", "0,1" }, "--pin does not apply to 'bench boot'")]
    public void Bad_boot_arguments_exit_two_before_any_VMM_starts(string[] arguments, string expected)
    {
        var result = CliRun.InProcess(["bench", "boot", .. arguments]);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr);
    }

    [Theory]
    [InlineData("fault")]
    [InlineData("remote-fault")]
    [InlineData("transport")]
    public void The_guest_options_of_bench_boot_are_refused_by_the_other_benchmarks(string kind)
    {
        var result = CliRun.InProcess("bench", kind, "--kernel", "vmlinux");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"--kernel does not apply to 'bench {kind}'", result.Stderr);
    }
}
