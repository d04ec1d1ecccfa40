using System.Globalization;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using SsiHv.Shell.Vmm;
using SsiHv.Shell.Vmm.Hypervisor.Kvm;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv bench boot</c>: boot time and VMM overhead of <c>ssihv run --guest probe</c> against QEMU on the same
/// KVM; <c>ssihv bench fault</c>: guest page-fault latency and throughput through our pager against a minimal C
/// userfaultfd pager; <c>ssihv bench remote-fault</c>: the same with every page homed in another process over TCP
/// loopback, against the C pager with a forked page server; <c>ssihv bench transport</c>: node-to-node page requests over loopback against a minimal C
/// TCP client/server. Each runs its reference in the same invocation. Exit 0 when every run completed (whatever the
/// numbers), 1 when a run failed, 2 for bad input.
/// </summary>
public sealed class BenchCommand : ICommand
{
    /// Examples shipped with ssihv (ProductAssets.ExampleTopology).
    const string DefaultTopology = "two-node.json";
    /// bench fault's probe run: one node, so one pager serves every page (budget a fraction of its RAM).
    const string DefaultFaultTopology = "one-node.json";
    const int DefaultRuns = 5, MaxRuns = 1000;
    /// The memory test takes longer than the boot itself; without it the benchmark measures the boot.
    const string DefaultAppend = "memtest=off";

    static readonly OptionSpec Topology = TopologyInput.Option with
    {
        Required = false,
        Description = $"the topology file (JSON, docs/design.md §4.2; default: an example shipped with ssihv, examples/{DefaultTopology} for bench boot, examples/{DefaultFaultTopology} for bench fault's probe run)",
    };
    static readonly OptionSpec Runs = new("runs", "N", $"runs per VMM or pager (default {DefaultRuns})", Required: false);
    static readonly OptionSpec Append = new("append", "STR", $"the probe's command line (default \"{DefaultAppend}\")", Required: false);

    static readonly OptionSpec Budget = new("budget", "SIZE",
        $"bench fault and remote-fault: the pager's residency budget, e.g. 8M (default {DefaultBudgetBytes / (1024 * 1024)}M; the guest touches 4x as much)", Required: false);
    static readonly OptionSpec Pin = new("pin", "VCPU,PAGER|none",
        "bench fault and remote-fault: the CPUs of the vCPU thread and of the pager thread, on both sides alike (default 0,1 on two CPUs or more; none: the scheduler places them)", Required: false);
    static readonly PositionalSpec Kind = new("KIND", "boot | fault | remote-fault | transport");

    /// bench transport: requests per run with one outstanding, then with TransportDepth in flight.
    const int TransportSequential = 20_000, TransportPipelined = 100_000, TransportDepth = 64;

    /// The fault guest's working set is 4× the budget and its timings must fit in 124 KiB below 1 MiB.
    const ulong DefaultBudgetBytes = 8UL * 1024 * 1024;

    /// One command for every benchmark kind, because the command list (CliRunner) names one bench command.
    public CommandSyntax Syntax { get; } = new(
        "bench",
        "benchmarks against a reference run in the same invocation (boot: QEMU; fault, remote-fault: a C userfaultfd pager; transport: a C TCP client/server)",
        "bench boot: boots the probe guest (guests/probe/README.md) N times with 'ssihv run' in a child process and N times with\n"
        + "qemu-system-x86_64 -accel kvm (pc machine, qboot firmware, PVH boot of the same ELF, same CPUs, memory,\n"
        + "NUMA nodes and command line), alternating. Prints, per run and as median and min, the time from process\n"
        + "start to the first PROBE line and to process exit, the ratios ours/QEMU, where our time goes, and our\n"
        + "start-to-first-guest-instruction time and memory overhead against Firecracker's bars (125 ms, 5 MiB).\n"
        + $"A run still going after {BootBenchmark.RunTimeout.TotalSeconds} s is killed and fails the benchmark.\n"
        + "\n"
        + "bench fault: a tiny guest (bench/reference/fault_guest.S, one vCPU) writes once to each of 4x budget pages, twice\n"
        + "over, timing every write with rdtsc; its memory is served by our userfaultfd pager (UserfaultPager, as\n"
        + "'ssihv run --memory-budget' uses it) and, alternating, by a minimal C pager (bench/reference/uffd_reference.c,\n"
        + "built with ssihv). Prints first-touch, first-touch+eviction and re-fault latency (median, p99), pages/s\n"
        + $"per pass and the ratios ours/C against the goal (median first touch <= {FaultReport.GoalRatio}x C). Needs root (userfaultfd).\n"
        + "Then, once, the probe guest under 'ssihv run --topology FILE --memory-budget SIZE' touches as many pages\n"
        + "(our whole VMM, CPL3 guest; no C counterpart, compare with the guest-first-touch floor in docs/performance.md).\n"
        + "\n"
        + "bench remote-fault: bench fault's guest, pager and passes with every page homed on node 1 in another process:\n"
        + "'ssihv bench remote-fault-home' (started by the benchmark, not for direct use: a HomePageStore served by our TCP\n"
        + "transport on 127.0.0.1), reached through ClusterPageStore and our TCP transport, as a boot node reaches a memory\n"
        + "node. Pass 0 zero-fills and writes evicted dirty pages back to the home; pass 1 re-faults every page from it.\n"
        + "Alternating, bench/reference/uffd_remote_reference.c (built with ssihv) does the same with a forked C page server\n"
        + "(16 B request -> 4 KiB reply; 16 B + 4 KiB -> 16 B for a write-back). Prints first-touch and re-fault latency\n"
        + "(median, p99), the ratios ours/C, the fetch and write-back round trips of each side and the goal's verdict\n"
        + $"(median re-fault <= {RemoteFaultReport.GoalRatio}x C). Every page's bytes are checked afterwards. Needs root (userfaultfd).\n"
        + "\n"
        + "bench transport: two of our TCP transports in this process on 127.0.0.1 exchange FetchPage -> PageData (a 4 KiB\n"
        + $"page), {TransportSequential} times with 1 request outstanding and {TransportPipelined} times with {TransportDepth} in flight on one connection;\n"
        + "alternating, a minimal C client/server (bench/reference/tcp_reference.c, built with ssihv) does the same with\n"
        + "16 B requests and 4096 B replies. Prints round-trip median and p99, requests/s, and the ratios ours/C.\n"
        + "--append applies to 'bench boot' only; --budget to fault and remote-fault; --topology to boot and fault; --pin to fault and remote-fault.",
        [Kind],
        [Topology, Runs, Append, Budget, Pin]);

    public int Run(ParsedArguments arguments, TextWriter output) =>
        arguments.Required(Kind.Name) switch
        {
            "boot" => RunBoot(arguments, output),
            "fault" => RunFault(arguments, output),
            "remote-fault" => RunRemoteFault(arguments, output),
            // Internal: the remote home process that 'bench remote-fault' starts (RemoteFaultHome).
            "remote-fault-home" => RemoteFaultHome.Serve(Console.In, output),
            "transport" => RunTransport(arguments, output),
            var other => throw CliException.BadInput($"ssihv bench: unknown benchmark '{other}'; expected boot, fault, remote-fault or transport"),
        };

    /// The benchmarks whose guest runs on this host's KVM say so in one line, once their arguments are checked.
    static void RequireKvm(string benchmark)
    {
        if (HostKvm.Unavailable() is { } reason)
            throw CliException.Failure(
                $"ssihv bench {benchmark}: {reason}: this host has no usable KVM; run it in a lab machine: ssihv lab exec -- ssihv bench {benchmark} ... (docs/lab.md)");
    }

    int RunBoot(ParsedArguments arguments, TextWriter output)
    {
        if (arguments.Option(Budget.Name) is not null)
            throw CliException.BadInput("ssihv bench boot: --budget applies to 'bench fault' only");
        RejectOptions(arguments, "boot", Pin);
        var topologyPath = arguments.Option(Topology.Name) ?? Asset("boot", () => ProductAssets.ExampleTopology(DefaultTopology));
        if (!TopologyFile.TryLoad(topologyPath, out var topology, out var problems))
            throw CliException.BadInput(problems);
        var runs = RunsOf(arguments, "boot");
        var append = arguments.Option(Append.Name) ?? DefaultAppend;
        RequireKvm("boot");

        var probeElf = Asset("boot", () => ProductAssets.ProbeGuest);

        output.WriteLine($"ssihv bench boot: topology {topologyPath}, runs per VMM: {runs}, append \"{append}\"");
        BootResults results;
        try
        {
            results = BootBenchmark.Run(topology, topologyPath, probeElf, runs, append, output.WriteLine);
        }
        catch (BenchRunException e)
        {
            throw CliException.Failure([$"ssihv bench boot: {e.Message}", .. e.Details]);
        }
        foreach (var line in BootReport.Lines(results))
            output.WriteLine(line);
        return ExitCodes.Success;
    }

    /// A file of this installation, or what needs one; without it the installation is broken, which is a failure,
    /// not bad input.
    static T Asset<T>(string kind, Func<T> find)
    {
        try
        {
            return find();
        }
        catch (MissingAssetException e)
        {
            throw CliException.Failure($"ssihv bench {kind}: {e.Message}");
        }
    }

    int RunFault(ParsedArguments arguments, TextWriter output)
    {
        if (arguments.Option(Append.Name) is not null)
            throw CliException.BadInput("ssihv bench fault: --append applies to 'bench boot' only");
        var probeTopology = arguments.Option(Topology.Name) ?? Asset("fault", () => ProductAssets.ExampleTopology(DefaultFaultTopology));
        if (!TopologyFile.TryLoad(probeTopology, out _, out var problems))
            throw CliException.BadInput(problems);
        var runs = RunsOf(arguments, "fault");
        var (budgetBytes, budgetPages) = BudgetOf(arguments, "fault");
        var placement = PlacementOf(arguments, "fault");
        RequireKvm("fault");

        output.WriteLine(FormattableString.Invariant($"ssihv bench fault: budget {budgetPages} pages ({budgetBytes / 1024} KiB), working set {budgetPages * FaultBenchmark.WorkingSetPerBudget} pages, runs per pager: {runs}"));
        AgainstReference("fault", FaultReference.Prepare, tools =>
        {
            var results = FaultBenchmark.Run(tools, (int)budgetPages, runs, placement, output.WriteLine);
            foreach (var line in FaultReport.Lines(results))
                output.WriteLine(line);
            var probe = FaultProbeRun.Run(probeTopology, budgetBytes, results.Pages, results.TscPerMicrosecond);
            foreach (var line in FaultReport.ProbeLines(probe))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }

    /// Prepares a C reference shipped with ssihv (and its temporary results directory, removed afterwards) and
    /// measures against it; a missing asset or a failed run is a failure (exit 1) naming the benchmark.
    static void AgainstReference<TReference>(string kind, Func<TReference> prepare, Action<TReference> measure)
        where TReference : IDisposable
    {
        try
        {
            using var reference = Asset(kind, prepare);
            measure(reference);
        }
        catch (BenchRunException e)
        {
            throw CliException.Failure([$"ssihv bench {kind}: {e.Message}", .. e.Details]);
        }
    }

    static void RejectOptions(ParsedArguments arguments, string kind, params OptionSpec[] options)
    {
        foreach (var option in options)
            if (arguments.Option(option.Name) is not null)
                throw CliException.BadInput($"ssihv bench {kind}: --{option.Name} does not apply to 'bench {kind}'");
    }

    /// --pin or the default placement of the vCPU and pager threads.
    static FaultThreadPlacement PlacementOf(ParsedArguments arguments, string kind) =>
        arguments.Option(Pin.Name) is not { } pin ? FaultThreadPlacement.Default
        : FaultThreadPlacement.TryParse(pin, out var placement, out var error) ? placement
        : throw CliException.BadInput($"ssihv bench {kind}: {error}");

    /// The fault guest's budget (bytes, pages): --budget or the default, checked against what the guest can time.
    static (ulong Bytes, ulong Pages) BudgetOf(ParsedArguments arguments, string kind)
    {
        var budgetBytes = DefaultBudgetBytes;
        if (arguments.Option(Budget.Name) is { } text)
        {
            var parsed = Core.Units.ByteSize.parse(text);
            budgetBytes = parsed.IsOk ? parsed.ResultValue : throw CliException.BadInput($"ssihv bench {kind}: --budget: {parsed.ErrorValue}");
        }
        const int maxBudgetPages = FaultGuestLayout.MaxTouches / FaultBenchmark.Passes / FaultBenchmark.WorkingSetPerBudget;
        var budgetPages = budgetBytes / FaultGuestLayout.PageSize;
        if (budgetBytes % FaultGuestLayout.PageSize != 0 || budgetPages is < 1 or > maxBudgetPages)
            throw CliException.BadInput(FormattableString.Invariant(
                $"ssihv bench {kind}: --budget {arguments.Option(Budget.Name)}: expected a multiple of 4 KiB from 4 KiB to {maxBudgetPages * 4} KiB (the guest's timings for 4x that many pages, two passes, must fit below 1 MiB)"));
        return (budgetBytes, budgetPages);
    }

    int RunRemoteFault(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "remote-fault", Append, Topology);
        var runs = RunsOf(arguments, "remote-fault");
        var placement = PlacementOf(arguments, "remote-fault");
        var (budgetBytes, budgetPages) = BudgetOf(arguments, "remote-fault");
        RequireKvm("remote-fault");
        output.WriteLine(FormattableString.Invariant(
            $"ssihv bench remote-fault: budget {budgetPages} pages ({budgetBytes / 1024} KiB), working set {budgetPages * FaultBenchmark.WorkingSetPerBudget} pages homed on node {RemoteFaultHome.Node} in another process, runs per side: {runs}"));
        AgainstReference("remote-fault", FaultReference.Prepare, tools =>
        {
            var results = RemoteFaultBenchmark.Run(tools, Asset("remote-fault", () => ProductAssets.RemoteFaultReference), (int)budgetPages, runs, placement, output.WriteLine);
            foreach (var line in RemoteFaultReport.Lines(results))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }

    int RunTransport(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "transport", Append, Budget, Topology, Pin);
        var runs = RunsOf(arguments, "transport");
        output.WriteLine(FormattableString.Invariant(
            $"ssihv bench transport: runs per side: {runs}, {TransportSequential} requests with 1 outstanding, {TransportPipelined} with {TransportDepth} in flight"));
        AgainstReference("transport", TransportReference.Prepare, reference =>
        {
            var results = TransportBenchmark.Run(reference, TransportSequential, TransportPipelined, TransportDepth, runs, output.WriteLine);
            foreach (var line in TransportReport.Lines(results))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }

    static int RunsOf(ParsedArguments arguments, string kind)
    {
        var text = arguments.Option(Runs.Name);
        if (text is null)
            return DefaultRuns;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var runs) && runs is >= 1 and <= MaxRuns
            ? runs
            : throw CliException.BadInput($"ssihv bench {kind}: --runs {text}: expected a whole number from 1 to {MaxRuns}");
    }
}
