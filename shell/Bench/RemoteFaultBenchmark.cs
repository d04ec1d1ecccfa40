namespace SsiHv.Shell.Bench;

/// <summary>Every run of both sides of <c>ssihv bench remote-fault</c>, in the order they ran, with the parameters they shared.</summary>
public sealed record RemoteFaultResults(int Pages, int BudgetPages, int Passes, double TscPerMicrosecond, IReadOnlyList<RemoteFaultRun> Ours, IReadOnlyList<RemoteFaultRun> Reference,
    FaultThreadPlacement Placement, FaultToucher Toucher);

/// <summary>
/// <c>ssihv bench remote-fault</c>: <c>bench fault</c>'s guest and passes (pass 0 first-touches 4× budget pages,
/// evicting dirty pages to their home; pass 1 re-faults every page from its home), with the home in another
/// process over TCP loopback: ours (<see cref="RemoteFaultOurs"/>, one home process for the whole invocation, so
/// that it is warm like a running memory node) and the C reference (<see cref="RemoteFaultReference"/>, which forks
/// its page server per run), alternating per run after one unmeasured warm-up run of each.
/// </summary>
public static class RemoteFaultBenchmark
{
    public static RemoteFaultResults Run(FaultTools tools, string reference, int budgetPages, int runs, FaultThreadPlacement placement, FaultToucher toucher,
        Action<string> progress)
    {
        const int passes = FaultBenchmark.Passes;
        var pages = budgetPages * FaultBenchmark.WorkingSetPerBudget;
        if (pages * passes > FaultGuestLayout.MaxTouches)
            throw new ArgumentOutOfRangeException(nameof(budgetPages), $"at most {FaultGuestLayout.MaxTouches / passes / FaultBenchmark.WorkingSetPerBudget} budget pages");
        var storeMiB = (int)((ulong)pages * FaultGuestLayout.PageSize / (1024 * 1024)) + 1;
        using var home = RemoteFaultHome.Process.Start(storeMiB, placement.HomeCpu);
        progress($"remote home: 'ssihv bench remote-fault-home' (node {RemoteFaultHome.Node}) listening on {home.Endpoint}");

        var ours = new List<RemoteFaultRun>();
        var c = new List<RemoteFaultRun>();
        var tscRates = new List<double>();
        RemoteFaultRun Ours() => Checked("ours", RemoteFaultOurs.Run(tools.GuestCode, pages, budgetPages, passes, home, placement, toucher));
        (RemoteFaultRun, double) C()
        {
            var (run, tsc) = RemoteFaultReference.Run(reference, tools, pages, budgetPages, passes, placement, toucher);
            return (Checked("C reference", run), tsc);
        }

        Ours();
        C();
        progress("warm-up run of both sides done (not counted)");
        for (var run = 1; run <= runs; run++)
        {
            var our = Ours();
            var (cRun, tscPerMicrosecond) = C();
            ours.Add(our);
            c.Add(cRun);
            tscRates.Add(tscPerMicrosecond);
            progress(FormattableString.Invariant(
                $"run {run}/{runs}: first-touch pass ours {our.Run.PassMicroseconds[0] / 1000:F1} ms, C {cRun.Run.PassMicroseconds[0] / 1000:F1} ms; re-fault pass ours {our.Run.PassMicroseconds[1] / 1000:F1} ms, C {cRun.Run.PassMicroseconds[1] / 1000:F1} ms"));
        }
        return new RemoteFaultResults(pages, budgetPages, passes, FaultStatistics.Median(tscRates), ours, c, placement, toucher);
    }

    static RemoteFaultRun Checked(string who, RemoteFaultRun run)
    {
        FaultBenchmark.Checked(who, run.Run);
        return run;
    }
}
