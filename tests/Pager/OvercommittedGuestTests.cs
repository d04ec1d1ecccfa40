using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Pager.OvercommitGuest;

namespace SsiHv.Tests.Pager;

/// <summary>
/// The probe guest's memtest on a guest whose RAM is 4x the pager's residency budget: every page is written,
/// evicted (written back), fetched back and verified through the real userfaultfd path, by one vCPU and by
/// several at once, with no mismatch.
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class OvercommittedGuestTests(ITestOutputHelper output)
{
    [Trait(Needs.Trait, Needs.Kvm)]
    [Theory]
    [InlineData("memtest.cpus=1")]
    [InlineData("memtest.cpus=all")]
    public void Memtest_passes_with_guest_ram_four_times_the_budget(string cpus)
    {
        var run = CliRun.AsProcess(TestScale.Minutes(5),
            "run", "--topology", TopologyPath, "--guest", "probe", "--memory-budget", "64M", "--append", cpus, "--timeout", TestScale.SecondsArgument(280));
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());

        var tested = OvercommitGuest.AssertMemtestsFoundNoMismatch(run.Stdout);
        Assert.InRange(tested, 4 * BudgetPages * 95 / 100, 4 * BudgetPages);

        var pager = PagerSummary.Parse(run.Stdout);
        Assert.Equal(0, pager.Errors);
        Assert.True(pager.ResidentPages <= BudgetPages, $"{pager.ResidentPages} pages resident, budget {BudgetPages}");
        // Written once, then verified after eviction: nearly every tested page was written back and fetched
        // again before its verification (only the last budget-full can still be resident when verified).
        Assert.True(pager.WriteBacks >= tested - BudgetPages, $"{pager.WriteBacks} write-backs for {tested} pages");
        Assert.True(pager.Fetches >= tested - BudgetPages, $"{pager.Fetches} fetches for {tested} pages");
        Assert.Equal(pager.Fetches, pager.Installs);
    }
}
