using SsiHv.Core.Acpi;

namespace SsiHv.Shell.Cli;

/// <summary>The table set of a validated topology, as <c>acpi generate</c> and <c>acpi show</c> both need it.</summary>
public static class GeneratedTables
{
    /// A topology can pass validation and still not fit the tables (the BIOS area is finite): that is the
    /// topology file's fault, so it is bad input naming the file.
    public static IReadOnlyList<TableSet.GeneratedTable> Build(Core.Topology.Topology topology, ParsedArguments arguments)
    {
        var built = TableSet.build(topology);
        return built.IsOk
            ? built.ResultValue.ToList()
            : throw CliException.BadInput($"{arguments.Required(TopologyInput.Option.Name)}: {built.ErrorValue}");
    }
}
