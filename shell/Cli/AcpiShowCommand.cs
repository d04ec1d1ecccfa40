using Microsoft.FSharp.Collections;
using SsiHv.Core.Acpi;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv acpi show</c>: what the guest will see. The view is rendered from the generated tables after they
/// are parsed back, never from the topology file, so a reviewer reads what a guest would decode.
/// </summary>
public sealed class AcpiShowCommand : ICommand
{
    public CommandSyntax Syntax { get; } = new(
        "acpi show",
        "show the NUMA machine a topology's ACPI tables describe",
        "Generates the ACPI tables of the topology, decodes them again the way a guest does, and prints the\n"
        + "result: nodes, CPU -> node by APIC ID, memory ranges per node, the SLIT distance matrix, HMAT latency\n"
        + "and bandwidth with units, and memory-side caches. Inconsistent tables are reported and exit 1.",
        [],
        [TopologyInput.Option]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var topology = TopologyInput.Load(arguments);
        var tables = GeneratedTables.Build(topology, arguments);
        var decoded = TableSet.decode(ListModule.OfSeq(tables.Select(t => Tuple.Create(TableFiles.FileName(t.Signature), t.Bytes))));
        var problems = decoded.Errors.Select(Binary.AcpiErrorModule.text)
            .Concat(Consistency.check(decoded.Tables).Select(Consistency.text))
            .ToList();
        // Our own tables failing our own parser is a defect of ssihv, not of the user's input.
        if (problems.Count > 0)
            throw CliException.Failure(["ssihv: the generated ACPI tables do not decode cleanly:", .. problems.Select(p => "  " + p)]);

        output.WriteLine($"Topology \"{topology.Name}\" as the guest decodes its ACPI tables");
        output.WriteLine();
        output.WriteLine("Tables (guest-physical address, size):");
        foreach (var table in tables)
            output.WriteLine($"  {table.Signature}  0x{table.Address:X8}  {table.Bytes.Length,4} bytes");
        NumaViewText.Write(NumaView.ofTables(decoded.Tables), output);
        return ExitCodes.Success;
    }
}
