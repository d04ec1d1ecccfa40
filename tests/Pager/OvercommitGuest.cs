using SsiHv.Tests.Cli;
using SsiHv.Tests.Vmm;
using Xunit;

namespace SsiHv.Tests.Pager;

/// <summary>
/// The overcommitted probe guest the pager tests run (through <c>ssihv run</c> or in this process): the topology
/// of tests/topologies/overcommit.json with a 64 MiB residency budget, a quarter of its RAM, and the check of the
/// memtest reports it prints.
/// </summary>
public static class OvercommitGuest
{
    public const ulong BudgetBytes = 64UL * 1024 * 1024;
    public const long BudgetPages = (long)(BudgetBytes / 4096);
    public static string TopologyPath => TestFiles.TopologyPath("overcommit");

    /// Asserts that both memtest reports (the one-vCPU and the all-vCPU run) and the summary found no mismatch;
    /// returns how many pages the reports tested.
    public static long AssertMemtestsFoundNoMismatch(string console)
    {
        var report = new ProbeReport(console);
        var memtests = report.All("memtest").ToList();
        Assert.Equal(2, memtests.Count);
        Assert.All(memtests, m => Assert.Equal(0, m.GetProperty("mismatches").GetInt64()));
        Assert.Equal(0, report.Single("memtest-summary").GetProperty("mismatches").GetInt64());
        return memtests.Sum(m => m.GetProperty("pages").GetInt64());
    }
}
