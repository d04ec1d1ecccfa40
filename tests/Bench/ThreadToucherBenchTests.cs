using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Vmm.Hypervisor.Kvm;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench fault</c> and <c>remote-fault</c> with <c>--toucher thread</c>, at a tiny size, as real processes
/// and without /dev/kvm: a host thread touches the pages for our pager and for the C reference alike, both keep
/// every page's bytes and report every row with its ratios. Not a timing assertion.
/// </summary>
public sealed class ThreadToucherBenchTests
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(4);

    [Fact]
    public void Fault_with_a_thread_toucher_runs_both_pagers_and_reports_every_row()
    {
        var stdout = TinyThreadRun("fault", "first touch (budget not full)", "first touch + eviction", "re-fault + eviction");
        Assert.Contains("touch timings: CLOCK_MONOTONIC in ns around each first write, on both sides (host thread toucher, on the vCPU's CPU)", stdout);
        Assert.Matches(@"goal: median first touch ours/C ≤ 1\.2×: \d+\.\d\d× — (MET|MISSED)", stdout);
        Assert.Contains("probe guest through our whole VMM: not run (it needs KVM; the toucher is a host thread)", stdout);
    }

    [Fact]
    public void Remote_fault_with_a_thread_toucher_loses_no_page_and_reports_every_row()
    {
        var stdout = TinyThreadRun("remote-fault", "first touch (zero-fill)", "first touch + write-back", "re-fault: write-back + fetch");
        Assert.Contains("wrong pages (bytes read back after the passes, all runs): ours 0, C 0", stdout);
    }

    [Theory]
    [InlineData("fault", "x")]
    [InlineData("remote-fault", "VCPU")]
    public void An_unknown_toucher_is_bad_input(string kind, string toucher)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", kind, "--toucher", toucher);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"ssihv bench {kind}: --toucher {toucher}: expected thread or vcpu", result.Stderr);
    }

    [Theory]
    [InlineData("transport")]
    [InlineData("acpi")]
    [InlineData("boot")]
    public void The_toucher_option_is_bad_input_for_other_benchmarks(string kind)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", kind, "--toucher", "thread");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--toucher does not apply to 'bench {kind}'", result.Stderr);
    }

    /// The decision for a host with KVM and for one without, whichever this host is.
    [Fact]
    public void The_default_toucher_is_the_vcpu_where_kvm_works_and_a_thread_elsewhere()
    {
        Assert.Equal(new FaultToucherChoice.Chosen(FaultToucher.Vcpu, "toucher: vCPU (the fault guest under KVM)"), FaultToucherChoice.Decide(null, null, true));
        Assert.Equal(new FaultToucherChoice.Chosen(FaultToucher.Thread, "toucher: host thread (no /dev/kvm here)"), FaultToucherChoice.Decide(null, "open /dev/kvm failed", false));
        Assert.Equal(new FaultToucherChoice.Chosen(FaultToucher.Thread, "toucher: host thread (KVM unusable here: KVM_CREATE_VM failed)"),
            FaultToucherChoice.Decide(null, "KVM_CREATE_VM failed", true));
        Assert.Equal(new FaultToucherChoice.Chosen(FaultToucher.Thread, "toucher: host thread (--toucher thread)"), FaultToucherChoice.Decide("thread", null, true));
        Assert.Equal(new FaultToucherChoice.NoKvm("open /dev/kvm failed"), FaultToucherChoice.Decide("vcpu", "open /dev/kvm failed", false));
        Assert.Equal(new FaultToucherChoice.Unknown("Thread"), FaultToucherChoice.Decide("Thread", null, true));
    }

    /// Where this host has no usable KVM (as where this suite runs outside a lab machine), asking for the vCPU
    /// toucher is a failure naming /dev/kvm; where it has one, the same tiny run completes on the vCPU.
    [Fact]
    public void The_vcpu_toucher_without_kvm_is_a_failure_naming_dev_kvm()
    {
        var reason = HostKvm.Unavailable();
        var result = CliRun.AsProcess(BenchTimeout, "bench", "fault", "--toucher", "vcpu", "--budget", "4K", "--runs", "1");
        if (reason is null)
            Assert.True(result.ExitCode == 0, result.ToString());
        else
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"ssihv bench fault: {reason}: this host has no usable KVM (/dev/kvm); run it in a lab machine", result.Stderr);
        }
    }

    /// A 16 KiB budget, one run, thread toucher: exit 0, every row, and both sides did the same work (16 pages per
    /// pass: 16 zero-fills, 16 re-faults; the last eviction ahead may land after the last touch). Returns stdout.
    static string TinyThreadRun(string kind, params string[] rowKinds)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", kind, "--budget", "16K", "--runs", "1", "--toucher", "thread");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("toucher: host thread (--toucher thread)", result.Stdout);
        AssertRows(result.Stdout, rowKinds);
        Assert.Matches(@"last run: ours 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions; C 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions", result.Stdout);
        return result.Stdout;
    }

    static void AssertRows(string stdout, params string[] kinds)
    {
        foreach (var kind in kinds)
        {
            var row = Regex.Match(stdout, $@"^  {Regex.Escape(kind)}\s+(\S+)\s+(\S+)\s+(\S+)×\s+(\S+)\s+(\S+)\s+(\S+)×$", RegexOptions.Multiline);
            Assert.True(row.Success, $"no row '{kind}' in:\n{stdout}");
            for (var group = 1; group <= 6; group++)
                Assert.True(double.Parse(row.Groups[group].Value, CultureInfo.InvariantCulture) > 0, $"row '{kind}' has a non-positive figure: {row.Value}");
        }
    }
}
