using System.Text.RegularExpressions;

namespace SsiHv.Tests.Pager;

/// <summary>The `ssihv run: pager: ...` line `ssihv run --memory-budget` prints when the guest stops.</summary>
public sealed partial record PagerSummary(long ZeroFills, long Fetches, long Installs, long WriteBacks, long Evictions, long ResidentPages, long Errors)
{
    public static PagerSummary Parse(string stdout)
    {
        var match = SummaryLine().Match(stdout);
        if (!match.Success)
            throw new InvalidOperationException($"no pager summary in:\n{stdout}");
        long Group(string name) => long.Parse(match.Groups[name].Value);
        return new PagerSummary(Group("zero"), Group("fetches"), Group("installs"), Group("writebacks"), Group("evictions"), Group("resident"), Group("errors"));
    }

    [GeneratedRegex(@"ssihv run: pager: .*zero-fills (?<zero>\d+), fetches (?<fetches>\d+), installs (?<installs>\d+), write-backs (?<writebacks>\d+), evictions (?<evictions>\d+); resident (?<resident>\d+) pages;.*errors (?<errors>\d+)")]
    private static partial Regex SummaryLine();
}
