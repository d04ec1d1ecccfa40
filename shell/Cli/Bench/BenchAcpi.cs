using SsiHv.Shell.Bench;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench acpi</c>: ACPI table generation and parsing for a large topology, in process (AcpiBenchmark),
/// then the tables checked with acpi check's rules and <c>iasl -d</c>. Needs no KVM and no root.
/// </summary>
static class BenchAcpi
{
    public static readonly string Help =
        $"bench acpi: builds the topology of {AcpiBenchmark.Requested.Describe()} (1 GiB each; a latency and a bandwidth for\n"
        + "every initiator/target pair, so an HMAT entry for each) through topology validation; where the limits refuse it,\n"
        + "says which and measures the largest size of the same shape they allow. Times generating its ACPI tables and\n"
        + $"decoding them again, in process (median of N runs after {AcpiBenchmark.WarmUps} warm-up runs), against the goal\n"
        + $"(<= {AcpiReport.GoalMilliseconds} ms), then checks the tables as 'ssihv acpi check' does and with 'iasl -d' (acpica-tools;\n"
        + "reported as not checked when iasl is not installed). Exit 1 when a check fails.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "acpi", [.. BootOnly, .. StartupOnly, Budget, TopologyOption, Pin, Toucher]);
        var runs = RunsOf(arguments, "acpi");
        output.WriteLine($"ssihv bench acpi: requested {AcpiBenchmark.Requested.Describe()}, runs: {runs}");
        AcpiBenchResults results;
        try
        {
            results = AcpiBenchmark.Run(AcpiBenchmark.Requested, runs);
        }
        catch (BenchRunException e)
        {
            throw CliException.Failure([$"ssihv bench acpi: {e.Message}", .. e.Details]);
        }
        foreach (var line in AcpiReport.Lines(results))
            output.WriteLine(line);

        IReadOnlyList<string> iaslProblems = [];
        if (IaslDisassembly.Executable is not { } iasl)
            output.WriteLine("iasl -d: not checked: iasl is not installed (apt-get install acpica-tools)");
        else
        {
            iaslProblems = IaslDisassembly.Problems(iasl, results.Tables.Select(t => (t.Signature, t.Bytes)));
            output.WriteLine(iaslProblems.Count == 0
                ? $"iasl -d ({iasl}): every table but the RSDP disassembles without errors or warnings"
                : $"iasl -d ({iasl}): {iaslProblems.Count} problem(s)");
            foreach (var problem in iaslProblems)
                output.WriteLine($"  {problem}");
        }
        if (results.CheckProblems.Count > 0 || iaslProblems.Count > 0)
            throw CliException.Failure("ssihv bench acpi: the generated tables failed a check (listed above)");
        return ExitCodes.Success;
    }
}
