using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench fault</c>: guest page-fault latency and throughput through our pager against a minimal C
/// userfaultfd pager (FaultBenchmark), then one probe run under our whole VMM (FaultProbeRun).
/// </summary>
static class BenchFault
{
    /// The probe run's topology: one node, so one pager serves every page (budget a fraction of its RAM).
    public const string DefaultProbeTopology = "one-node.json";

    public static readonly string Help =
        "bench fault: a tiny guest (bench/reference/fault_guest.S, one vCPU) writes once to each of 4x budget pages, twice\n"
        + "over, timing every write with rdtsc; its memory is served by our userfaultfd pager (UserfaultPager, as\n"
        + "'ssihv run --memory-budget' uses it) and, alternating, by a minimal C pager (bench/reference/uffd_reference.c,\n"
        + "built with ssihv). Prints first-touch, first-touch+eviction and re-fault latency (median, p99), pages/s\n"
        + $"per pass and the ratios ours/C against the goal (median first touch <= {FaultReport.GoalRatio}x C). Needs root (userfaultfd).\n"
        + "--toucher thread: a host thread pinned where the vCPU would be runs the guest's loop over the same memory on both\n"
        + "sides, timed with CLOCK_MONOTONIC (the default where KVM is unusable; no probe run then).\n"
        + "Then, once, the probe guest under 'ssihv run --topology FILE --memory-budget SIZE' touches as many pages\n"
        + "(our whole VMM, CPL3 guest; no C counterpart, compare with the guest-first-touch floor in docs/performance.md).\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "fault", [.. BootOnly, .. StartupOnly]);
        var probeTopology = arguments.Option(TopologyOption.Name) ?? Asset("fault", () => ProductAssets.ExampleTopology(DefaultProbeTopology));
        if (!TopologyFile.TryLoad(probeTopology, out _, out var problems))
            throw CliException.BadInput(problems);
        var runs = RunsOf(arguments, "fault");
        var (budgetBytes, budgetPages) = BudgetOf(arguments, "fault");
        var placement = PlacementOf(arguments, "fault");
        var (toucher, toucherLine) = ToucherOf(arguments, "fault");

        output.WriteLine(FormattableString.Invariant($"ssihv bench fault: budget {budgetPages} pages ({budgetBytes / 1024} KiB), working set {budgetPages * FaultBenchmark.WorkingSetPerBudget} pages, runs per pager: {runs}"));
        output.WriteLine(toucherLine);
        AgainstReference("fault", FaultReference.Prepare, tools =>
        {
            var results = FaultBenchmark.Run(tools, (int)budgetPages, runs, placement, toucher, output.WriteLine);
            foreach (var line in FaultReport.Lines(results))
                output.WriteLine(line);
            if (toucher == FaultToucher.Thread)
            {
                output.WriteLine("");
                output.WriteLine("probe guest through our whole VMM: not run (it needs KVM; the toucher is a host thread)");
                return;
            }
            var probe = FaultProbeRun.Run(probeTopology, budgetBytes, results.Pages, results.TscPerMicrosecond);
            foreach (var line in FaultReport.ProbeLines(probe))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }
}
