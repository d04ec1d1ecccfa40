using static System.FormattableString;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The lines <c>ssihv bench remote-fault</c> prints: the toucher's latency (median, p99) of the three kinds of
/// touch, the ratios ours/C, the goal's verdict (re-fault median), and where a remote fault's time goes on each
/// side (the home round trips, the rest).
/// </summary>
public static class RemoteFaultReport
{
    /// The issue's goal: our median remote re-fault at most this many times the C reference's.
    public const double GoalRatio = 1.2;

    sealed record Segment(string Name, int Pass, Func<RemoteFaultResults, (int From, int To)> Range);

    static readonly Segment[] Segments =
    [
        new("first touch (zero-fill)", 0, r => (0, r.BudgetPages)),
        new("first touch + write-back", 0, r => (r.BudgetPages, r.Pages)),
        new("re-fault: write-back + fetch", 1, r => (0, r.Pages)),
    ];

    public static IReadOnlyList<string> Lines(RemoteFaultResults results)
    {
        var lines = new List<string>
        {
            FaultReport.ClockLine(results.Toucher, results.TscPerMicrosecond),
            Invariant($"{results.Pages} pages ({results.Pages * 4} KiB) touched per pass, budget {results.BudgetPages} pages, every page homed in another process over TCP loopback; {results.Ours.Count} runs each, samples pooled"),
            results.Placement is { PagerCpu: { } pagerCpu, HomeCpu: { } homeCpu }
                ? Invariant($"{results.Placement.Describe()}, home process (C: page server) on CPU {homeCpu}; ours also pins the transport thread that reads the home's replies (and steps their completions) on CPU {pagerCpu}")
                : results.Placement.Describe(),
            Invariant($"both sides evict ahead, after a fault's wake, to a free-frame target of {FaultOurPager.FreeFramesFor(results.Pages, results.BudgetPages)} (ours: PagerConfig.FreeFrames; the C handler: BENCH_FREE_FRAMES)"),
            "",
            FaultReport.LatencyHeading(results.Toucher),
            Invariant($"  {"kind",-30} {"ours p50",9} {"C p50",9} {"ratio",7} {"ours p99",9} {"C p99",9} {"ratio",7}"),
        };
        var medians = new Dictionary<Segment, (double Ours, double C)>();
        foreach (var segment in Segments)
        {
            var ours = Microseconds(results, results.Ours, segment);
            var c = Microseconds(results, results.Reference, segment);
            var (ourMedian, cMedian) = (FaultStatistics.Median(ours), FaultStatistics.Median(c));
            var (ourP99, cP99) = (FaultStatistics.Quantile(ours, 0.99), FaultStatistics.Quantile(c, 0.99));
            medians[segment] = (ourMedian, cMedian);
            lines.Add(Invariant($"  {segment.Name,-30} {ourMedian,9:F1} {cMedian,9:F1} {ourMedian / cMedian,6:F2}× {ourP99,9:F1} {cP99,9:F1} {ourP99 / cP99,6:F2}×"));
        }

        lines.Add("");
        lines.Add("where a remote fault's time goes (median of runs of each run's p50 / p99, µs; request sent → reply here):");
        foreach (var (side, runs) in new[] { ("ours", results.Ours), ("C", results.Reference) })
        {
            lines.Add(Invariant($"  {side}: fetch round trip {Median(runs, r => r.FetchP50):F1} / {Median(runs, r => r.FetchP99):F1}, write-back round trip {Median(runs, r => r.StoreP50):F1} / {Median(runs, r => r.StoreP99):F1}, ")
                + (double.IsNaN(runs[0].CopyP50) ? "UFFDIO_COPY not timed (pager fault path unchanged)" : Invariant($"UFFDIO_COPY {Median(runs, r => r.CopyP50):F1} / {Median(runs, r => r.CopyP99):F1}")));
            var (p50, p99) = (Median(runs, r => r.Run.HandleP50Microseconds), Median(runs, r => r.Run.HandleP99Microseconds));
            lines.Add(side == "ours"
                ? Invariant($"    pager fault read → resolved p50 ≤ {p50:F0}, p99 ≤ {p99:F0} (PagerMetrics power-of-two bucket upper bounds)")
                : Invariant($"    pager fault read → resolved p50 {p50:F1}, p99 {p99:F1}"));
            var refault = side == "ours" ? medians[Segments[2]].Ours : medians[Segments[2]].C;
            // Both sides evict ahead, after a fault's wake: the fault itself waits for its fetch alone.
            var fetch = Median(runs, r => r.FetchP50);
            lines.Add(Invariant($"    re-fault median {refault:F1} = fetch round trip {fetch:F1} + the rest {refault - fetch:F1} (fault delivery, {(side == "ours" ? "pager steps" : "handler")}, UFFDIO_COPY, wake, and waiting for the previous fault's eviction ahead to finish)"));
        }
        var our = results.Ours[^1].Run;
        var reference = results.Reference[^1].Run;
        lines.Add(Invariant($"  last run: ours {our.Faults} faults, {our.ZeroFills} zero-fills, {our.Fetches} fetches, {our.Evictions} evictions; C {reference.Faults} faults, {reference.ZeroFills} zero-fills, {reference.Fetches} fetches, {reference.Evictions} evictions"));
        lines.Add(Invariant($"  wrong pages (bytes read back after the passes, all runs): ours {results.Ours.Sum(r => r.Run.WrongPages)}, C {results.Reference.Sum(r => r.Run.WrongPages)}"));

        lines.Add("");
        var (ourRefault, cRefault) = medians[Segments[2]];
        var ratio = ourRefault / cRefault;
        lines.Add(Invariant($"goal: median remote re-fault ours/C ≤ {GoalRatio:F1}×: {ratio:F2}× — {(ratio <= GoalRatio ? "MET" : "MISSED")}"));
        return lines;
    }

    static double[] Microseconds(RemoteFaultResults results, IReadOnlyList<RemoteFaultRun> runs, Segment segment)
    {
        var (from, to) = segment.Range(results);
        return [.. runs.SelectMany(run => run.Run.Pass(segment.Pass).Skip(from).Take(to - from)).Select(cycles => cycles / results.TscPerMicrosecond)];
    }

    static double Median(IReadOnlyList<RemoteFaultRun> runs, Func<RemoteFaultRun, double> value) => FaultStatistics.Median(runs.Select(value));
}
