using System.Globalization;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using SsiHv.Shell.Vmm;
using SsiHv.Shell.Vmm.Boot;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv bench boot</c>: boot time and VMM overhead of <c>ssihv run --guest probe</c> against QEMU on the same
/// KVM, in one invocation. Exit 0 when every run booted (whatever the numbers), 1 when a run failed, 2 for bad input.
/// </summary>
public sealed class BenchCommand : ICommand
{
    const string DefaultTopology = "examples/two-node.json";
    const int DefaultRuns = 5, MaxRuns = 1000;
    /// The memory test takes longer than the boot itself; without it the benchmark measures the boot.
    const string DefaultAppend = "memtest=off";

    static readonly OptionSpec Topology = TopologyInput.Option with
    {
        Required = false,
        Description = $"the topology file (JSON, DESIGN.md §4.2; default {DefaultTopology})",
    };
    static readonly OptionSpec Runs = new("runs", "N", $"boots per VMM (default {DefaultRuns})", Required: false);
    static readonly OptionSpec Append = new("append", "STR", $"the probe's command line (default \"{DefaultAppend}\")", Required: false);

    public CommandSyntax Syntax { get; } = new(
        "bench boot",
        "boot time and overhead of our VMM against QEMU (the probe guest)",
        "Boots the probe guest (DESIGN.md §6) N times with 'ssihv run' in a child process and N times with\n"
        + "qemu-system-x86_64 -accel kvm (pc machine, qboot firmware, PVH boot of the same ELF, same CPUs, memory,\n"
        + "NUMA nodes and command line), alternating. Prints, per run and as median and min, the time from process\n"
        + "start to the first PROBE line and to process exit, the ratios ours/QEMU, where our time goes, and our\n"
        + "start-to-first-guest-instruction time and memory overhead against Firecracker's bars (125 ms, 5 MiB).\n"
        + $"A run still going after {BootBenchmark.RunTimeout.TotalSeconds} s is killed and fails the benchmark.\n"
        + "Not yet built: 'bench fault' (guest page-fault latency) and 'bench transport' (node-to-node requests).",
        [],
        [Topology, Runs, Append]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var topologyPath = TopologyPath(arguments);
        if (!TopologyFile.TryLoad(topologyPath, out var topology, out var problems))
            throw CliException.BadInput(problems);
        var runs = RunsOf(arguments);
        var append = arguments.Option(Append.Name) ?? DefaultAppend;

        string probeElf;
        try
        {
            // Built once here so that no timed run pays for compiling it (each `ssihv run` still runs make).
            probeElf = ProbeGuest.Build();
        }
        catch (BootInputException e)
        {
            throw CliException.BadInput($"ssihv bench boot: {e.Message}");
        }
        catch (VmFailureException e)
        {
            throw CliException.Failure($"ssihv bench boot: {e.Message}");
        }

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

    /// The given file, or the example: in the working directory, else in the checkout this build came from.
    static string TopologyPath(ParsedArguments arguments)
    {
        if (arguments.Option(Topology.Name) is { } given)
            return given;
        if (File.Exists(DefaultTopology))
            return DefaultTopology;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, DefaultTopology);
            if (File.Exists(candidate))
                return candidate;
        }
        throw CliException.BadInput($"ssihv bench boot: cannot find {DefaultTopology} here or above {AppContext.BaseDirectory}; give --topology FILE");
    }

    static int RunsOf(ParsedArguments arguments)
    {
        var text = arguments.Option(Runs.Name);
        if (text is null)
            return DefaultRuns;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var runs) && runs is >= 1 and <= MaxRuns
            ? runs
            : throw CliException.BadInput($"ssihv bench boot: --runs {text}: expected a whole number from 1 to {MaxRuns}");
    }
}
