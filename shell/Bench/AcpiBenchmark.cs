using System.Diagnostics;
using Microsoft.FSharp.Collections;
using SsiHv.Core.Acpi;
using SsiHv.Core.Topology;
using SsiHv.Shell.Topology;

namespace SsiHv.Shell.Bench;

/// <summary>The size asked for and, when the limits refuse it, why; then the size measured.</summary>
public sealed record AcpiBenchSize(int Nodes, int CpusPerNode)
{
    public int Cpus => Nodes * CpusPerNode;
    public string Describe() => $"{Nodes} nodes × {CpusPerNode} CPUs = {Cpus} CPUs";
}

/// <summary>What <c>ssihv bench acpi</c> measured: per-iteration times of generate + parse, and the checks of the result.</summary>
public sealed record AcpiBenchResults(
    AcpiBenchSize Requested, IReadOnlyList<string> RequestedRefused, AcpiBenchSize Measured,
    IReadOnlyList<TableSet.GeneratedTable> Tables, int HmatEntries, IReadOnlyList<double> Milliseconds, IReadOnlyList<string> CheckProblems);

/// <summary>
/// <c>ssihv bench acpi</c>: generates the ACPI table set of a large topology (<see cref="TableSet.build"/>) and
/// decodes it again (<see cref="TableSet.decode"/>, as <c>acpi show</c>/<c>acpi check</c> do), in this process,
/// after unmeasured warm-up iterations (so the code is measured optimized, not as tier-0 JIT), then checks the last
/// set with <c>acpi check</c>'s consistency rules.
/// </summary>
public static class AcpiBenchmark
{
    public const int WarmUps = 3;

    /// The topology the issue asks for: 256 nodes, 4096 CPUs.
    public static readonly AcpiBenchSize Requested = new(256, 16);

    /// The largest size of the same shape the topology limits allow (Validation.maxNodes, Validation.maxCpus).
    public static AcpiBenchSize Largest => new(Validation.maxNodes, Validation.maxCpus / Validation.maxNodes);

    /// Validates `size`'s topology; when the limits refuse it, measures <see cref="Largest"/> instead and says why.
    public static AcpiBenchResults Run(AcpiBenchSize requested, int runs)
    {
        var refused = Problems(requested, out var topology);
        var measured = requested;
        if (refused.Count > 0)
        {
            measured = Largest;
            if (Problems(measured, out topology) is { Count: > 0 } largestRefused)
                throw new BenchRunException($"the largest allowed topology ({measured.Describe()}) does not validate", largestRefused);
        }

        var times = new List<double>();
        IReadOnlyList<TableSet.GeneratedTable> tables = [];
        TableSet.DecodeResult decoded = null!;
        for (var iteration = 0; iteration < WarmUps + runs; iteration++)
        {
            var start = Stopwatch.GetTimestamp();
            var built = TableSet.build(topology);
            if (built.IsError)
                throw new BenchRunException($"{measured.Describe()}: {built.ErrorValue}");
            decoded = TableSet.decode(ListModule.OfSeq(built.ResultValue.Select(t => Tuple.Create($"{t.Signature}.dat", t.Bytes))));
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (iteration >= WarmUps)
                times.Add(elapsed.TotalMilliseconds);
            tables = [.. built.ResultValue];
        }
        var problems = decoded.Errors.Select(Binary.AcpiErrorModule.text)
            .Concat(Consistency.check(decoded.Tables).Select(Consistency.text))
            .ToList();
        var hmatEntries = TopologyModule.initiatorNodes(topology).Length * TopologyModule.memoryNodes(topology).Length;
        return new AcpiBenchResults(requested, refused, measured, tables, hmatEntries, times, problems);
    }

    static IReadOnlyList<string> Problems(AcpiBenchSize size, out Core.Topology.Topology topology) =>
        TopologyFile.TryParse($"bench acpi topology ({size.Describe()})", AcpiBenchTopology.Json(size.Nodes, size.CpusPerNode), out topology, out var problems)
            ? []
            : problems;
}
