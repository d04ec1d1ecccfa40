using static System.FormattableString;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The lines <c>ssihv bench fault</c> prints: the toucher's fault latency (guest or host thread) (median, p99) for the three kinds of
/// touch, throughput per pass, the pagers' own latency, and the ratios ours/C against the goal.
/// </summary>
public static class FaultReport
{
    /// The issue's goal: our median first-touch latency at most this many times the C reference's.
    public const double GoalRatio = 1.2;

    /// Which touches of which pass a row covers, by index into the pass.
    sealed record Segment(string Name, int Pass, Func<FaultResults, (int From, int To)> Range);

    static readonly Segment[] Segments =
    [
        new("first touch (budget not full)", 0, r => (0, r.BudgetPages)),
        new("first touch + eviction", 0, r => (r.BudgetPages, r.Pages)),
        new("re-fault + eviction", 1, r => (0, r.Pages)),
    ];

    /// The line saying what the touch timings are measured with (rdtsc in the guest, or the thread toucher's clock).
    public static string ClockLine(FaultToucher toucher, double ticksPerMicrosecond) => toucher == FaultToucher.Vcpu
        ? Invariant($"TSC: {ticksPerMicrosecond:F1} ticks/µs (measured by the C reference: rdtsc against CLOCK_MONOTONIC over 200 ms)")
        : "touch timings: CLOCK_MONOTONIC in ns around each first write, on both sides (host thread toucher, on the vCPU's CPU)";

    /// The heading of the latency table.
    public static string LatencyHeading(FaultToucher toucher) => toucher == FaultToucher.Vcpu
        ? "guest-measured latency of one touch (rdtsc around the faulting write), µs:"
        : "latency of one touch measured by the toucher thread (clock read around the faulting write), µs:";

    public static IReadOnlyList<string> Lines(FaultResults results)
    {
        var lines = new List<string>
        {
            ClockLine(results.Toucher, results.TscPerMicrosecond),
            Invariant($"{results.Pages} pages ({results.Pages * 4} KiB) touched per pass, budget {results.BudgetPages} pages; {results.Ours.Count} runs each, samples pooled"),
            results.Placement.Describe(),
            Invariant($"both sides evict ahead, after a fault's wake, to a free-frame target of {FaultOurPager.FreeFramesFor(results.Pages, results.BudgetPages)} (ours: PagerConfig.FreeFrames; the C handler: BENCH_FREE_FRAMES)"),
            "",
            LatencyHeading(results.Toucher),
            Invariant($"  {"kind",-32} {"ours p50",9} {"C p50",9} {"ratio",7} {"ours p99",9} {"C p99",9} {"ratio",7}"),
        };
        double? firstTouchRatio = null;
        foreach (var segment in Segments)
        {
            var ours = Microseconds(results, results.Ours, segment);
            var c = Microseconds(results, results.Reference, segment);
            var (ourMedian, cMedian) = (FaultStatistics.Median(ours), FaultStatistics.Median(c));
            var (ourP99, cP99) = (FaultStatistics.Quantile(ours, 0.99), FaultStatistics.Quantile(c, 0.99));
            firstTouchRatio ??= ourMedian / cMedian;
            lines.Add(Invariant($"  {segment.Name,-32} {ourMedian,9:F1} {cMedian,9:F1} {ourMedian / cMedian,6:F2}× {ourP99,9:F1} {cP99,9:F1} {ourP99 / cP99,6:F2}×"));
        }

        lines.Add("");
        lines.Add(results.Toucher == FaultToucher.Vcpu
            ? "throughput (pages / wall time of the pass, median of runs; includes the guest loop, ≈13 emulated instructions per page):"
            : "throughput (pages / wall time of the pass, median of runs; includes the toucher thread's loop):");
        string[] passNames = ["first-touch pass (evicts 3/4)", "re-fault pass (working set 4× budget)"];
        for (var pass = 0; pass < results.Passes; pass++)
        {
            var ours = PagesPerSecond(results, results.Ours, pass);
            var c = PagesPerSecond(results, results.Reference, pass);
            lines.Add(Invariant($"  {passNames[pass],-40} ours {ours,8:F0} pages/s   C {c,8:F0} pages/s   ours/C {ours / c:F2}"));
        }

        lines.Add("");
        lines.Add("pager-side latency, fault read → page resolved (C: exact; ours: PagerMetrics power-of-two bucket upper bound):");
        lines.Add(Invariant($"  ours p50 ≤ {Median(results.Ours, r => r.HandleP50Microseconds):F0} µs, p99 ≤ {Median(results.Ours, r => r.HandleP99Microseconds):F0} µs;   C p50 {Median(results.Reference, r => r.HandleP50Microseconds):F1} µs, p99 {Median(results.Reference, r => r.HandleP99Microseconds):F1} µs"));
        var our = results.Ours[^1];
        var reference = results.Reference[^1];
        lines.Add(Invariant($"  last run: ours {our.Faults} faults, {our.ZeroFills} zero-fills, {our.Fetches} fetches, {our.Evictions} evictions; C {reference.Faults} faults, {reference.ZeroFills} zero-fills, {reference.Fetches} fetches, {reference.Evictions} evictions"));

        lines.Add("");
        var verdict = firstTouchRatio <= GoalRatio ? "MET" : "MISSED";
        lines.Add(Invariant($"goal: median first touch ours/C ≤ {GoalRatio:F1}×: {firstTouchRatio:F2}× — {verdict}"));
        return lines;
    }

    public static IReadOnlyList<string> ProbeLines(FaultProbeResult probe) =>
    [
        "",
        Invariant($"probe guest through our whole VMM ({probe.Command.Display}):"),
        Invariant($"  first write to each of {probe.Pages} pages (guest CPL3, rdtsc, log-linear bucket lower bound): median {probe.TouchMedianMicroseconds:F1} µs, p99 {probe.TouchP99Microseconds:F1} µs"),
        Invariant($"  pager: {probe.PagerSummary}"),
    ];

    static double[] Microseconds(FaultResults results, IReadOnlyList<FaultRun> runs, Segment segment)
    {
        var (from, to) = segment.Range(results);
        return [.. runs.SelectMany(run => run.Pass(segment.Pass).Skip(from).Take(to - from)).Select(cycles => cycles / results.TscPerMicrosecond)];
    }

    static double PagesPerSecond(FaultResults results, IReadOnlyList<FaultRun> runs, int pass) =>
        FaultStatistics.Median(runs.Select(run => results.Pages / (run.PassMicroseconds[pass] / 1e6)));

    static double Median(IReadOnlyList<FaultRun> runs, Func<FaultRun, double> value) => FaultStatistics.Median(runs.Select(value));
}
