using System.Text.RegularExpressions;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Bench;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench fault</c> at a tiny size as a real process, with its threads pinned (the default on two CPUs or
/// more): both pagers run the guest to the end on the CPUs it names, and a placement it cannot honour is bad
/// input. Not a timing assertion.
/// </summary>
public sealed class FaultBenchTests
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(4);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_pinned_tiny_run_names_the_placement_and_reports_every_row()
    {
        Assert.True(Environment.ProcessorCount >= 2, $"this test needs two CPUs; the machine has {Environment.ProcessorCount}");
        var result = CliRun.AsProcess(BenchTimeout, "bench", "fault", "--budget", "16K", "--runs", "1", "--pin", "1,0");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("threads pinned alike on both sides: vCPU on CPU 1, pager (C: handler) on CPU 0", result.Stdout);
        Assert.Contains("both sides evict ahead, after a fault's wake, to a free-frame target of 1 (ours: PagerConfig.FreeFrames; the C handler: BENCH_FREE_FRAMES)", result.Stdout);
        // The last fault's eviction ahead runs after its wake, so it may or may not be counted before the guest halts.
        Assert.Matches(@"last run: ours 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions; C 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions", result.Stdout);
        foreach (var kind in new[] { "first touch (budget not full)", "first touch + eviction", "re-fault + eviction" })
            Assert.Matches(new Regex($@"^  {Regex.Escape(kind)}\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\d×", RegexOptions.Multiline), result.Stdout);
    }

    [Theory]
    [InlineData("1,1")]
    [InlineData("0")]
    [InlineData("0,9999")]
    [InlineData("-1,0")]
    public void A_placement_that_cannot_be_honoured_is_bad_input(string pin)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", "fault", "--pin", pin);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--pin: expected none or VCPU,PAGER (two different CPUs below {Environment.ProcessorCount}), found \"{pin}\"", result.Stderr);
    }

    [Fact]
    public void The_C_reference_is_told_the_same_placement_and_none_pins_nothing()
    {
        Assert.True(FaultThreadPlacement.TryParse("none", out var none, out _));
        Assert.Empty(none.ReferenceEnvironment);
        Assert.Equal("threads not pinned (placed by the scheduler)", none.Describe());
        var pinned = new FaultThreadPlacement(1, 0);
        Assert.Equal(new Dictionary<string, string> { ["BENCH_VCPU_CPU"] = "1", ["BENCH_HANDLER_CPU"] = "0", ["BENCH_SERVER_CPU"] = "1" }, pinned.ReferenceEnvironment);
        Assert.Equal(1, pinned.HomeCpu); // remote-fault's home processes share the vCPU's CPU, idle while it faults
        Assert.Null(none.HomeCpu);
    }

    [Fact]
    public void A_pinned_thread_is_allowed_on_that_cpu_only()
    {
        string? allowed = null;
        var thread = new Thread(() =>
        {
            CpuAffinity.PinCurrentThread(0);
            allowed = File.ReadLines("/proc/thread-self/status").Single(line => line.StartsWith("Cpus_allowed_list:"));
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal("Cpus_allowed_list:\t0", allowed);
        var refused = Assert.Throws<LinuxError>(() => CpuAffinity.PinCurrentThread(1000));
        Assert.Contains("sched_setaffinity to CPU 1000", refused.Message);
    }
}
