using static System.FormattableString;

namespace SsiHv.Shell.Bench;

/// <summary>The lines <c>ssihv bench transport</c> prints: latency with one request outstanding, rate with many, ratios ours/C.</summary>
public static class TransportReport
{
    public static IReadOnlyList<string> Lines(TransportResults results)
    {
        double[] ours = [.. results.Ours.SelectMany(run => run.SequentialMicroseconds)];
        double[] c = [.. results.Reference.SelectMany(run => run.SequentialMicroseconds)];
        var (ourMedian, cMedian) = (FaultStatistics.Median(ours), FaultStatistics.Median(c));
        var (ourP99, cP99) = (FaultStatistics.Quantile(ours, 0.99), FaultStatistics.Quantile(c, 0.99));
        var ourRate = FaultStatistics.Median(results.Ours.Select(run => run.PipelinedRequestsPerSecond));
        var cRate = FaultStatistics.Median(results.Reference.Select(run => run.PipelinedRequestsPerSecond));
        return
        [
            "",
            Invariant($"{results.Ours.Count} runs each; per run {results.Sequential} requests with 1 outstanding (samples pooled), then {results.Pipelined} with {results.Depth} in flight on one connection"),
            "ours: FetchPage (28 B frame) → PageData (4124 B frame) between two TCP transports in this process; C: 16 B → 4096 B, server thread + client thread",
            "",
            "round trip with 1 outstanding, µs:",
            Invariant($"  {"",-6} {"p50",9} {"p99",9}"),
            Invariant($"  {"ours",-6} {ourMedian,9:F1} {ourP99,9:F1}"),
            Invariant($"  {"C",-6} {cMedian,9:F1} {cP99,9:F1}"),
            Invariant($"  {"ours/C",-6} {ourMedian / cMedian,8:F2}× {ourP99 / cP99,8:F2}×"),
            "",
            Invariant($"requests/s with {results.Depth} in flight (median of runs): ours {ourRate:F0}, C {cRate:F0}, ours/C {ourRate / cRate:F2}"),
            Invariant($"(the C reference floor for the 1-outstanding round trip on a 2-core Debian 12 machine like CI's: 14–19 µs median, 30 µs p99; docs/performance.md)"),
        ];
    }
}
