namespace SsiHv.Shell.Bench;

/// <summary>
/// <c>ssihv bench transport</c>: FetchPage → PageData through our TCP transport and 16 B → 4 KiB through the C
/// reference, alternating per run so that host noise falls on both alike.
/// </summary>
public static class TransportBenchmark
{
    public static TransportResults Run(TransportReference reference, int sequential, int pipelined, int depth, int runs, Action<string> progress)
    {
        var ours = new List<TransportRun>();
        var c = new List<TransportRun>();
        for (var run = 1; run <= runs; run++)
        {
            var our = TransportOurs.RunAsync(sequential, pipelined, depth, static _ => { }).GetAwaiter().GetResult();
            var theirs = reference.Run(sequential, pipelined, depth);
            ours.Add(our);
            c.Add(theirs);
            progress(FormattableString.Invariant(
                $"run {run}/{runs}: 1 outstanding median ours {FaultStatistics.Median(our.SequentialMicroseconds):F1} µs, C {FaultStatistics.Median(theirs.SequentialMicroseconds):F1} µs; {depth} in flight ours {our.PipelinedRequestsPerSecond:F0}/s, C {theirs.PipelinedRequestsPerSecond:F0}/s"));
        }
        return new TransportResults(sequential, pipelined, depth, ours, c);
    }
}
