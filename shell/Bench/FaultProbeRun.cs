using SsiHv.Shell.Processes;
using System.Globalization;
using System.Text.Json;

namespace SsiHv.Shell.Bench;

/// <summary>
/// What the probe guest measured through our whole VMM: `PROBE memtest` touch cycles of its first write to each
/// page (CPL3, guest paging on; guests/probe/README.md) under <c>ssihv run --memory-budget</c>, and the pager's summary
/// line. Has no C counterpart in this invocation (a C VMM that boots the probe is out of scope); the
/// guest-first-touch floor of docs/performance.md ("Reference floors") is the figure to hold it against.
/// </summary>
public sealed record FaultProbeResult(BootCommand Command, int Pages, double TouchMedianMicroseconds, double TouchP99Microseconds, string PagerSummary);

public static class FaultProbeRun
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);
    const string PagerLinePrefix = "ssihv run: pager: ";

    public static FaultProbeResult Run(string topologyPath, ulong budgetBytes, int pages, double tscPerMicrosecond)
    {
        var budget = (budgetBytes / 1024).ToString(CultureInfo.InvariantCulture) + "K";
        string[] runArguments = ["run", "--topology", topologyPath, "--guest", "probe", "--memory-budget", budget,
            string.Create(CultureInfo.InvariantCulture, $"--append=memtest.pages={pages}")];
        var command = OurCommand(runArguments);
        var observation = BootObservation.RunAsync(command, RunTimeout).GetAwaiter().GetResult();
        if (observation.ExitCode != 0)
            throw new BenchRunException($"probe under our pager: '{command.Display}' exited with {observation.ExitCode}", observation.Tail());
        if (observation.Stdout.FirstOrDefault(l => l.StartsWith("PROBE error", StringComparison.Ordinal)) is { } error)
            throw new BenchRunException($"probe under our pager: {error}", observation.Tail());
        var memtest = observation.Stdout.FirstOrDefault(l => l.StartsWith("PROBE memtest {", StringComparison.Ordinal))
            ?? throw new BenchRunException("probe under our pager: no 'PROBE memtest' line", observation.Tail());
        var pagerSummary = observation.Stdout.FirstOrDefault(l => l.StartsWith(PagerLinePrefix, StringComparison.Ordinal))
            ?? throw new BenchRunException("probe under our pager: no pager summary line", observation.Tail());

        using var json = JsonDocument.Parse(memtest["PROBE memtest ".Length..]);
        var root = json.RootElement;
        if (root.GetProperty("mismatches").GetInt64() != 0)
            throw new BenchRunException($"probe under our pager: memory mismatches: {memtest}");
        double Microseconds(string field) => root.GetProperty(field).ValueKind == JsonValueKind.Number
            ? root.GetProperty(field).GetDouble() / tscPerMicrosecond
            : throw new BenchRunException($"probe under our pager: no {field} in {memtest}");
        return new FaultProbeResult(command, pages, Microseconds("touchCyclesMedian"), Microseconds("touchCyclesP99"), pagerSummary[PagerLinePrefix.Length..]);
    }

    /// `ssihv ARGS` of this same build (SelfCommand).
    internal static BootCommand OurCommand(string[] runArguments)
    {
        var (program, arguments) = SelfCommand.For(runArguments);
        return new BootCommand(program, [.. arguments], new Dictionary<string, string>());
    }
}
