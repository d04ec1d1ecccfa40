using SsiHv.Core.Acpi;
using SsiHv.Core.Topology;
using static System.FormattableString;

namespace SsiHv.Shell.Bench;

/// <summary>The lines <c>ssihv bench acpi</c> prints: the size measured (and why, when not the one asked for), the tables, the time against the goal, the checks.</summary>
public static class AcpiReport
{
    /// The issue's goal for one generate + parse of the table set.
    public const double GoalMilliseconds = 10;

    public static IReadOnlyList<string> Lines(AcpiBenchResults results)
    {
        var lines = new List<string>();
        if (results.RequestedRefused.Count > 0)
        {
            lines.Add($"requested {results.Requested.Describe()}: refused by the topology limits:");
            lines.AddRange(results.RequestedRefused.Select(problem => $"  {problem}"));
            var nodes = results.Requested.Nodes;
            lines.Add(Invariant($"  why: at most {Validation.maxNodes} nodes and {Validation.maxCpus} CPUs keep every table in the BIOS area, 0x{TableSet.rsdpAddress:X}-0x{TableSet.areaEnd - 1:X}"));
            lines.Add(Invariant($"  ({(TableSet.areaEnd - TableSet.rsdpAddress) / 1024} KiB, where Linux scans for the RSDP); at {nodes} nodes the HMAT's latency and bandwidth matrices alone"));
            lines.Add(Invariant($"  need 2 × {nodes}² × 2 B = {2 * nodes * nodes * 2 / 1024} KiB and the SLIT {nodes * nodes / 1024} KiB. {Validation.maxCpus} CPUs is also KVM's default most vCPUs per VM (x86)."));
            lines.Add($"measured instead: the largest size of the same shape the limits allow, {results.Measured.Describe()}");
        }
        else
            lines.Add($"measured: {results.Measured.Describe()}");
        lines.Add(Invariant($"HMAT latency and bandwidth for every initiator/target pair: {results.HmatEntries} pairs"));
        lines.Add(Invariant($"tables: {string.Join(", ", results.Tables.Select(t => $"{t.Signature} {t.Bytes.Length} B"))}; {results.Tables.Sum(t => t.Bytes.Length)} B in all"));
        lines.Add("");
        var median = FaultStatistics.Median(results.Milliseconds);
        var p99 = FaultStatistics.Quantile(results.Milliseconds, 0.99);
        lines.Add(Invariant($"generate + parse (TableSet.build, TableSet.decode), in process, {results.Milliseconds.Count} runs after {AcpiBenchmark.WarmUps} warm-up runs:"));
        lines.Add(Invariant($"  median {median:F2} ms, p99 {p99:F2} ms, min {results.Milliseconds.Min():F2} ms"));
        lines.Add(Invariant($"goal: median ≤ {GoalMilliseconds:F0} ms: {median:F2} ms — {(median <= GoalMilliseconds ? "MET" : "MISSED")}"));
        lines.Add("");
        lines.Add(results.CheckProblems.Count == 0
            ? "acpi check (decode errors, consistency): consistent"
            : $"acpi check (decode errors, consistency): {results.CheckProblems.Count} problem(s)");
        lines.AddRange(results.CheckProblems.Select(problem => $"  {problem}"));
        return lines;
    }
}
