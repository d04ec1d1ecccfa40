using Microsoft.FSharp.Collections;
using SsiHv.Core.Acpi;

namespace SsiHv.Shell.Cli;

/// <summary><c>ssihv acpi check DIR</c>: parse and cross-check any directory of raw ACPI tables.</summary>
public sealed class AcpiCheckCommand : ICommand
{
    static readonly PositionalSpec DirArgument =
        new("DIR", "a directory of raw tables: *.dat (ours, acpidump -b) or files named by signature (QEMU's)");

    public CommandSyntax Syntax { get; } = new(
        "acpi check",
        "parse and validate a directory of raw ACPI tables",
        "Decodes every table in DIR by the signature inside it (RSDP, XSDT, FACP, FACS, DSDT, APIC, SRAT, SLIT,\n"
        + "HMAT; others are listed but not judged), checks lengths and checksums, and cross-checks the set the way\n"
        + "Linux reads it (SLIT entries, overlapping SRAT ranges, MADT vs SRAT CPUs, HMAT domains, \\_S5).\n"
        + "Exit 0 when everything is consistent, 2 when a table is malformed or inconsistent.",
        [DirArgument],
        []);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var directory = arguments.Required(DirArgument.Name);
        var files = TableFiles.Read(directory);
        var decoded = TableSet.decode(ListModule.OfSeq(files.Select(f => Tuple.Create(f.FileName, f.Bytes))));

        var signatures = DecodedSignatures(decoded.Tables);
        output.WriteLine($"{directory}: {files.Count} files, decoded: {(signatures.Count == 0 ? "none" : string.Join(' ', signatures))}");
        foreach (var (file, signature) in decoded.Tables.Unrecognized)
            output.WriteLine($"{directory}: {file}: {signature} is not a table this tool decodes; not checked");

        var problems = decoded.Errors.Select(Binary.AcpiErrorModule.text)
            .Concat(Consistency.check(decoded.Tables).Select(Consistency.text))
            .Select(problem => $"{directory}: {problem}")
            .ToList();
        if (problems.Count > 0)
            throw CliException.BadInput([.. problems, $"{directory}: {problems.Count} problem(s) found"]);
        output.WriteLine($"{directory}: consistent");
        return ExitCodes.Success;
    }

    /// The signatures of the tables that decoded, in the order a guest follows them from the RSDP.
    public static IReadOnlyList<string> DecodedSignatures(TableSet.DecodedTables tables) =>
        new (string Signature, object? Table)[]
            {
                ("RSDP", tables.Rsdp), ("XSDT", tables.Xsdt), ("FACP", tables.Facp), ("FACS", tables.Facs),
                ("DSDT", tables.Dsdt), ("APIC", tables.Madt), ("SRAT", tables.Srat), ("SLIT", tables.Slit),
                ("HMAT", tables.Hmat),
            }
            .Where(t => t.Table is not null)
            .Select(t => t.Signature)
            .ToList();
}
