using System.Runtime.CompilerServices;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench startup</c>: the native AOT build against the JIT build, as processes started cold
/// (StartupBenchmark), against the start-up goals for the native one. Needs no KVM and no root.
/// </summary>
static class BenchStartup
{
    public static readonly string Help =
        "bench startup: starts the native build (--native) and the JIT build (--jit, run with dotnet) N times each, alternating,\n"
        + "after one warm-up run of each: 'ssihv --version' and 'ssihv acpi show --topology two-node.json' from start to exit\n"
        + "(and the latter's own peak RSS, ru_maxrss), and a boot node's 'ssihv node --config' from start to its first\n"
        + "GET /v1/health 200 (its VmRSS then), then from SIGTERM to exit. Reports median and p90 (sizes: median and max)\n"
        + "of each build, the ratio native/JIT, and the goals for the native build: acpi show <= "
        + $"{StartupReport.AcpiShowGoalMilliseconds:F0} ms, node host ready <= {StartupReport.NodeReadyGoalMilliseconds:F0} ms,\n"
        + $"acpi show peak RSS <= {StartupReport.AcpiShowRssGoalMiB:F0} MiB. Exit 1 when a build is missing or a run fails.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "startup", [.. BootOnly, Budget, TopologyOption, Pin, Toucher]);
        var runs = RunsOf(arguments, "startup");
        var thisIsNative = !RuntimeFeature.IsDynamicCodeSupported;
        var defaults = StartupBuilds.Defaults(thisIsNative, Environment.ProcessPath, AppContext.BaseDirectory);
        var native = Existing(arguments.Option(Native.Name) ?? defaults.Native, "native", StartupBuilds.NativeBuildCommand);
        var jit = Existing(arguments.Option(Jit.Name) ?? defaults.Jit, "JIT", StartupBuilds.JitBuildCommand);
        var dotnet = StartupBuilds.DotnetHost(Environment.ProcessPath, Environment.GetEnvironmentVariable("PATH"), Environment.GetEnvironmentVariable("DOTNET_ROOT"), File.Exists)
            ?? throw CliException.Failure("ssihv bench startup: no dotnet on PATH or in DOTNET_ROOT to run the JIT build with");
        var topology = Asset("startup", () => ProductAssets.ExampleTopology("two-node.json"));

        output.WriteLine($"ssihv bench startup: runs: {runs}");
        StartupResults results;
        using (var benchmark = new StartupBenchmark())
            results = benchmark.Run(new StartupLauncher(native, []), new StartupLauncher(dotnet, [jit]), topology, runs);
        foreach (var line in StartupReport.Lines(results))
            output.WriteLine(line);
        if (results.AnyFailed)
            throw CliException.Failure("ssihv bench startup: a run failed (named above)");
        return ExitCodes.Success;
    }

    /// A build that is not there is a failure (exit 1), said with the command that makes it.
    static string Existing(string path, string build, string buildCommand)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full)
            ? full
            : throw CliException.Failure($"ssihv bench startup: the {build} build {full} is missing; build it from the repository's root with: {buildCommand}");
    }
}
