using static System.FormattableString;

namespace SsiHv.Shell.Bench;

/// <summary>One measurement of one build over the runs: the values, or why its runs stopped (the first failure).</summary>
public sealed record BuildRuns(IReadOnlyList<double> Values, string? Failure)
{
    public static BuildRuns Empty => new([], null);
    public BuildRuns With(double value) => new([.. Values, value], Failure);
    public BuildRuns Failed(string failure) => new(Values, failure);
}

/// <summary>One measurement of both builds.</summary>
public sealed record StartupPair(BuildRuns Native, BuildRuns Jit)
{
    public static StartupPair Empty => new(BuildRuns.Empty, BuildRuns.Empty);
    public bool AnyFailed => Native.Failure is not null || Jit.Failure is not null;
}

/// <summary>What <c>ssihv bench startup</c> measured: times in milliseconds, sizes in MiB.</summary>
public sealed record StartupResults(
    StartupLauncher Native, StartupLauncher Jit, string Topology, int Runs,
    StartupPair Version, StartupPair AcpiShow, StartupPair AcpiShowPeakRss, StartupPair NodeReady, StartupPair NodeRss, StartupPair NodeStop)
{
    public bool AnyFailed => new[] { Version, AcpiShow, AcpiShowPeakRss, NodeReady, NodeRss, NodeStop }.Any(pair => pair.AnyFailed);
}

/// <summary>
/// The lines <c>ssihv bench startup</c> prints: each measurement for both builds (median and p90 of times, median
/// and max of sizes) with the ratio native/JIT of the medians, then the goals for the native build.
/// </summary>
public static class StartupReport
{
    /// The start-up goals for the native build (docs/performance.md, bench startup).
    public const double AcpiShowGoalMilliseconds = 30, NodeReadyGoalMilliseconds = 150, AcpiShowRssGoalMiB = 25;

    public static IReadOnlyList<string> Lines(StartupResults results) =>
    [
        $"native: {results.Native.Describe()}",
        $"JIT:    {results.Jit.Describe()}",
        Invariant($"{results.Runs} runs of each build, alternating, after one unmeasured warm-up run of each"),
        "",
        Times("--version, start to exit", results.Version),
        Times($"acpi show --topology {Path.GetFileName(results.Topology)}, start to exit", results.AcpiShow),
        Sizes("acpi show, peak RSS (ru_maxrss)", results.AcpiShowPeakRss),
        Times("node host (boot node), start to first GET /v1/health 200", results.NodeReady),
        Sizes("node host, VmRSS at its first GET /v1/health 200", results.NodeRss),
        Times("node host, SIGTERM to exit", results.NodeStop),
        "",
        Goal("acpi show, start to exit, native median", results.AcpiShow.Native, AcpiShowGoalMilliseconds, "ms", FaultStatistics.Median),
        Goal("node host ready, native median", results.NodeReady.Native, NodeReadyGoalMilliseconds, "ms", FaultStatistics.Median),
        Goal("acpi show peak RSS, native max", results.AcpiShowPeakRss.Native, AcpiShowRssGoalMiB, "MiB", values => values.Max()),
    ];

    /// "met" when the statistic of the native runs is within the goal; a failed or missing run is "not met".
    public static string Verdict(BuildRuns native, double goal, Func<IReadOnlyList<double>, double> statistic) =>
        native.Failure is null && native.Values.Count > 0 && statistic(native.Values) <= goal ? "met" : "not met";

    static string Goal(string what, BuildRuns native, double goal, string unit, Func<IReadOnlyList<double>, double> statistic)
    {
        var measured = native.Failure is not null ? "not measured, the native run failed"
            : native.Values.Count == 0 ? "not measured"
            : Invariant($"{statistic(native.Values):F1} {unit}");
        return Invariant($"goal: {what} <= {goal:F0} {unit}: {measured}: {Verdict(native, goal, statistic)}");
    }

    static string Times(string what, StartupPair pair) =>
        Line(what, pair, values => Invariant($"median {FaultStatistics.Median(values):F1} ms, p90 {FaultStatistics.Quantile(values, 0.9):F1} ms"));

    static string Sizes(string what, StartupPair pair) =>
        Line(what, pair, values => Invariant($"median {FaultStatistics.Median(values):F1} MiB, max {values.Max():F1} MiB"));

    static string Line(string what, StartupPair pair, Func<IReadOnlyList<double>, string> figures)
    {
        string Figures(BuildRuns runs) =>
            runs.Failure is { } failure ? $"failed: {failure}"
            : runs.Values.Count == 0 ? "not run"
            : figures(runs.Values);
        var ratio = pair.Native.Failure is null && pair.Jit.Failure is null && pair.Native.Values.Count > 0 && pair.Jit.Values.Count > 0
            ? Invariant($"{FaultStatistics.Median(pair.Native.Values) / FaultStatistics.Median(pair.Jit.Values):F2}")
            : "-";
        return $"{what}: native {Figures(pair.Native)}; JIT {Figures(pair.Jit)}; native/JIT {ratio}";
    }
}
