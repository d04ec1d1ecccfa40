using SsiHv.Core.Acpi;

namespace SsiHv.Shell.Cli;

/// <summary><c>ssihv acpi generate</c>: the guest's ACPI tables as raw files, one per table.</summary>
public sealed class AcpiGenerateCommand : ICommand
{
    static readonly OptionSpec OutOption = new("out", "DIR", "where to write SIGNATURE.dat files (created if missing)");

    public CommandSyntax Syntax { get; } = new(
        "acpi generate",
        "write the ACPI tables of a topology as raw files",
        "Validates the topology and writes every ACPI table the guest will get (RSDP, XSDT, FACP, DSDT, APIC,\n"
        + "SRAT, SLIT, HMAT, ...) as DIR/SIGNATURE.dat, the raw bytes as they sit in guest memory. The files can be\n"
        + "disassembled with 'iasl -d', given to QEMU with -acpitable, or checked with 'ssihv acpi check DIR'.",
        [],
        [TopologyInput.Option, OutOption]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var topology = TopologyInput.Load(arguments);
        var tables = GeneratedTables.Build(topology, arguments);
        var directory = arguments.Required(OutOption.Name);
        var written = TableFiles.Write(directory, tables.Select(t => (t.Signature, t.Bytes)));
        var nameWidth = written.Max(w => w.Path.Length);
        foreach (var (table, file) in tables.Zip(written))
            output.WriteLine($"{file.Path.PadRight(nameWidth)}  {file.Size,6} bytes  at guest address 0x{table.Address:X8}");
        output.WriteLine($"{written.Count} tables written to {directory}");
        return ExitCodes.Success;
    }
}
