using static SsiHv.Shell.Bench.FaultGuestLayout;

namespace SsiHv.Shell.Bench;

/// <summary>Every run of both pagers, in the order they ran, with the parameters they shared.</summary>
public sealed record FaultResults(int Pages, int BudgetPages, int Passes, double TscPerMicrosecond, IReadOnlyList<FaultRun> Ours, IReadOnlyList<FaultRun> Reference,
    FaultThreadPlacement Placement, FaultToucher Toucher);

/// <summary>
/// <c>ssihv bench fault</c>: the fault guest (bench/reference/fault_guest.S), or a host thread running its loop
/// (<see cref="FaultToucher"/>, the same on both sides), touches `pages` pages — four times the
/// budget — in two passes, once under our pager (in this process) and once under the C reference (a child
/// process), alternating per run so that host noise falls on both alike. Pass 0 is first touch (evicting once
/// the budget is full), pass 1 re-faults every page from the store (evicting another each time). One unmeasured
/// warm-up run of each comes first, so that neither is measured cold: ours would otherwise run part of its first
/// run as tier-0 (unoptimized) JIT code, the C side with cold caches and page tables.
/// </summary>
public static class FaultBenchmark
{
    public const int Passes = 2;
    /// The working set is this many times the budget, so pass 0 evicts and every touch of pass 1 re-faults.
    public const int WorkingSetPerBudget = 4;

    public static FaultResults Run(FaultTools tools, int budgetPages, int runs, FaultThreadPlacement placement, FaultToucher toucher, Action<string> progress)
    {
        var pages = budgetPages * WorkingSetPerBudget;
        if (pages * Passes > MaxTouches)
            throw new ArgumentOutOfRangeException(nameof(budgetPages), $"at most {MaxTouches / Passes / WorkingSetPerBudget} budget pages");
        var ours = new List<FaultRun>();
        var reference = new List<FaultRun>();
        var tscRates = new List<double>();
        Checked("ours (warm-up)", FaultOurPager.Run(tools.GuestCode, pages, budgetPages, Passes, placement, toucher));
        Checked("C reference (warm-up)", FaultReference.Run(tools, pages, budgetPages, Passes, placement, toucher).Run);
        progress("warm-up run of both pagers done (not counted)");
        for (var run = 1; run <= runs; run++)
        {
            var our = Checked("ours", FaultOurPager.Run(tools.GuestCode, pages, budgetPages, Passes, placement, toucher));
            var (c, tscPerMicrosecond) = FaultReference.Run(tools, pages, budgetPages, Passes, placement, toucher);
            Checked("C reference", c);
            ours.Add(our);
            reference.Add(c);
            tscRates.Add(tscPerMicrosecond);
            progress(FormattableString.Invariant(
                $"run {run}/{runs}: first-touch pass ours {our.PassMicroseconds[0] / 1000:F1} ms, C {c.PassMicroseconds[0] / 1000:F1} ms; re-fault pass ours {our.PassMicroseconds[1] / 1000:F1} ms, C {c.PassMicroseconds[1] / 1000:F1} ms"));
        }
        return new FaultResults(pages, budgetPages, Passes, FaultStatistics.Median(tscRates), ours, reference, placement, toucher);
    }

    /// A run counts only if every page kept its bytes across eviction and every page was faulted.
    internal static FaultRun Checked(string who, FaultRun run)
    {
        if (run.WrongPages != 0)
            throw new BenchRunException($"{who}: {run.WrongPages} pages lost their bytes across eviction and re-fault");
        if (run.ZeroFills != run.Pages || run.Fetches < run.Pages)
            throw new BenchRunException($"{who}: {run.ZeroFills} zero-fills and {run.Fetches} fetches for {run.Pages} pages: not every touch faulted as intended");
        return run;
    }
}

/// <summary>Quantiles by sorting (exact, nearest-rank), the same code for both pagers.</summary>
public static class FaultStatistics
{
    public static double Median(IEnumerable<double> values) => Quantile(values, 0.5);

    public static double Quantile(IEnumerable<double> values, double quantile)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
            return double.NaN;
        var rank = (int)Math.Ceiling(quantile * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
