using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench remote-fault</c>: bench fault with every page homed in another process over TCP loopback, against
/// the C pager with a forked page server (RemoteFaultBenchmark).
/// </summary>
static class BenchRemoteFault
{
    public static readonly string Help =
        "bench remote-fault: bench fault's guest, pager and passes with every page homed on node 1 in another process:\n"
        + "'ssihv bench remote-fault-home' (started by the benchmark, not for direct use: a HomePageStore served by our TCP\n"
        + "transport on 127.0.0.1), reached through ClusterPageStore and our TCP transport, as a boot node reaches a memory\n"
        + "node. Pass 0 zero-fills and writes evicted dirty pages back to the home; pass 1 re-faults every page from it.\n"
        + "Alternating, bench/reference/uffd_remote_reference.c (built with ssihv) does the same with a forked C page server\n"
        + "(16 B request -> 4 KiB reply; 16 B + 4 KiB -> 16 B for a write-back). Prints first-touch and re-fault latency\n"
        + "(median, p99), the ratios ours/C, the fetch and write-back round trips of each side and the goal's verdict\n"
        + $"(median re-fault <= {RemoteFaultReport.GoalRatio}x C). Every page's bytes are checked afterwards. Needs root (userfaultfd).\n"
        + "--toucher as for bench fault.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "remote-fault", [.. BootOnly, .. StartupOnly, TopologyOption]);
        var runs = RunsOf(arguments, "remote-fault");
        var placement = PlacementOf(arguments, "remote-fault");
        var (budgetBytes, budgetPages) = BudgetOf(arguments, "remote-fault");
        var (toucher, toucherLine) = ToucherOf(arguments, "remote-fault");
        output.WriteLine(FormattableString.Invariant(
            $"ssihv bench remote-fault: budget {budgetPages} pages ({budgetBytes / 1024} KiB), working set {budgetPages * FaultBenchmark.WorkingSetPerBudget} pages homed on node {RemoteFaultHome.Node} in another process, runs per side: {runs}"));
        output.WriteLine(toucherLine);
        AgainstReference("remote-fault", FaultReference.Prepare, tools =>
        {
            var results = RemoteFaultBenchmark.Run(tools, Asset("remote-fault", () => ProductAssets.RemoteFaultReference), (int)budgetPages, runs, placement, toucher,
                output.WriteLine);
            foreach (var line in RemoteFaultReport.Lines(results))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }
}
