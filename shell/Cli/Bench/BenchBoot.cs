using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Topology;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench boot</c>: boot time and VMM overhead of <c>ssihv run --guest probe</c> against QEMU on the same
/// KVM (BootBenchmark).
/// </summary>
static class BenchBoot
{
    /// An example shipped with ssihv (ProductAssets.ExampleTopology).
    public const string DefaultTopology = "two-node.json";
    /// The memory test takes longer than the boot itself; without it the benchmark measures the boot.
    public const string DefaultAppend = "memtest=off";

    public static readonly string Help =
        "bench boot: boots the probe guest (guests/probe/README.md) N times with 'ssihv run' in a child process and N times with\n"
        + "qemu-system-x86_64 -accel kvm (pc machine, qboot firmware, PVH boot of the same ELF, same CPUs, memory,\n"
        + "NUMA nodes and command line), alternating. Prints, per run and as median and min, the time from process\n"
        + "start to the first PROBE line and to process exit, the ratios ours/QEMU, where our time goes, and our\n"
        + "start-to-first-guest-instruction time and memory overhead against Firecracker's bars (125 ms, 5 MiB).\n"
        + $"A run still going after {BootBenchmark.RunTimeout.TotalSeconds} s is killed and fails the benchmark.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        if (arguments.Option(Budget.Name) is not null)
            throw CliException.BadInput("ssihv bench boot: --budget applies to 'bench fault' only");
        RejectOptions(arguments, "boot", Pin, Toucher);
        var topologyPath = arguments.Option(TopologyOption.Name) ?? Asset("boot", () => ProductAssets.ExampleTopology(DefaultTopology));
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
}
