using SsiHv.Tests.Vmm;
using Xunit;

namespace SsiHv.Tests.Cluster;

/// <summary>The probe guest's memtest across a cluster: every NUMA node tested, no page lost its bytes.</summary>
public static class MemtestVerdict
{
    public static void AssertEveryNodeVerified(string console, int nodeCount)
    {
        var report = new ProbeReport(console);
        var memtests = report.All("memtest").ToDictionary(m => m.GetProperty("node").GetInt32());
        Assert.Equal(Enumerable.Range(0, nodeCount), memtests.Keys.Order());
        foreach (var (node, memtest) in memtests)
        {
            Assert.True(memtest.GetProperty("pages").GetInt64() > 0, $"node {node} had no page tested");
            Assert.True(memtest.GetProperty("mismatches").GetInt64() == 0, $"node {node}: {memtest}");
        }
        Assert.Equal(0, report.Single("memtest-summary").GetProperty("mismatches").GetInt64());
        Assert.Empty(report.All("error"));
    }
}
