using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Shell.Bench;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench remote-fault</c> at a tiny size, as a real process: our pager with a remote home process and the
/// C reference with its forked page server both run the guest to the end, keep every page's bytes and report
/// every row. Not a timing assertion: the numbers only have to be there and positive.
/// </summary>
public sealed partial class RemoteFaultBenchTests
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(4);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void TinyRunReportsEveryRowAndLosesNoPage()
    {
        // Budget 4 pages: 16 pages per pass, 13 write-backs in pass 0, 16 fetches in pass 1.
        var result = CliRun.AsProcess(BenchTimeout, "bench", "remote-fault", "--budget", "16K", "--runs", "1");
        Assert.True(result.ExitCode == 0, result.ToString());
        var stdout = result.Stdout;

        Assert.Contains("remote home: 'ssihv bench remote-fault-home' (node 1) listening on 127.0.0.1:", stdout);
        Assert.Contains("home process (C: page server) on CPU 0; ours also pins the transport thread that reads the home's replies (and steps their completions) on CPU 1", stdout);
        Assert.Contains("wrong pages (bytes read back after the passes, all runs): ours 0, C 0", stdout);
        foreach (var kind in new[] { "first touch (zero-fill)", "first touch + write-back", "re-fault: write-back + fetch" })
        {
            var row = Regex.Match(stdout, $@"^  {Regex.Escape(kind)}\s+(\S+)\s+(\S+)\s+(\S+)×\s+(\S+)\s+(\S+)\s+(\S+)×$", RegexOptions.Multiline);
            Assert.True(row.Success, $"no row '{kind}' in:\n{stdout}");
            for (var group = 1; group <= 6; group++)
                Assert.True(double.Parse(row.Groups[group].Value, CultureInfo.InvariantCulture) > 0, $"row '{kind}' has a non-positive figure: {row.Value}");
        }
        // Both sides did the same work: 16 zero-fills, 16 fetches, 13 + 16 evictions (a budget of 4 pages keeps 1
        // frame free: 3 pages stay resident in pass 0, and every fetch of pass 1 is followed by an eviction ahead).
        Assert.Contains("both sides evict ahead, after a fault's wake, to a free-frame target of 1 (ours: PagerConfig.FreeFrames; the C handler: BENCH_FREE_FRAMES)", stdout);
        // The last fault's eviction ahead runs after its wake, so it may or may not be counted before the guest halts.
        Assert.Matches(@"last run: ours 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions; C 32 faults, 16 zero-fills, 16 fetches, 2[89] evictions", stdout);
        foreach (var side in new[] { "ours", "C" })
        {
            var trips = Regex.Match(stdout, $@"^  {side}: fetch round trip (\S+) / (\S+), write-back round trip (\S+) / (\S+),", RegexOptions.Multiline);
            Assert.True(trips.Success, $"no round-trip line for {side} in:\n{stdout}");
            for (var group = 1; group <= 4; group++)
                Assert.True(double.Parse(trips.Groups[group].Value, CultureInfo.InvariantCulture) > 0, trips.Value);
        }
        Assert.Matches(@"goal: median remote re-fault ours/C ≤ 1\.2×: \d+\.\d\d× — (MET|MISSED)", stdout);
    }

    [Fact]
    public void OptionsOfOtherBenchmarksAndBadBudgetsExitTwo()
    {
        var topology = CliRun.InProcess("bench", "remote-fault", "--topology", "x.json");
        Assert.True(topology.ExitCode == 2, topology.ToString());
        Assert.Contains("--topology does not apply to 'bench remote-fault'", topology.Stderr);

        var budget = CliRun.InProcess("bench", "remote-fault", "--budget", "6K");
        Assert.True(budget.ExitCode == 2, budget.ToString());
        Assert.Contains("ssihv bench remote-fault: --budget 6K: expected a multiple of 4 KiB", budget.Stderr);
    }

    [Theory]
    [InlineData("", "expected one line 'SECRET_HEX STORE_MIB'")]
    [InlineData("00112233 zero", "expected one line 'SECRET_HEX STORE_MIB'")]
    [InlineData("not-hex 4", "the secret is not hexadecimal")]
    [InlineData("0011 4", "secret:")]
    public void TheHomeProcessRefusesBadInputWithExitTwo(string input, string expected)
    {
        var output = new StringWriter();
        Assert.Equal(2, RemoteFaultHome.Serve(new StringReader(input), output));
        Assert.Contains(expected, output.ToString());
    }
}
