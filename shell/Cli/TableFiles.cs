using System.Text.RegularExpressions;

namespace SsiHv.Shell.Cli;

/// <summary>
/// A directory of raw ACPI tables, one table per file. Ours are <c>SIGNATURE.dat</c>; acpidump -b writes
/// lower-case <c>srat.dat</c>, <c>ssdt1.dat</c>; QEMU's expected-table files are bare signatures
/// (<c>SRAT</c>). All three are read, so <c>acpi check</c> works on any of them.
/// </summary>
public static partial class TableFiles
{
    public static string FileName(string signature) => $"{signature}.dat";

    /// Writes every table, creating the directory; returns each file's path and size in bytes.
    public static IReadOnlyList<(string Path, int Size)> Write(string directory, IEnumerable<(string Signature, byte[] Bytes)> tables)
    {
        try
        {
            Directory.CreateDirectory(directory);
            return tables
                .Select(t =>
                {
                    var path = Path.Combine(directory, FileName(t.Signature));
                    File.WriteAllBytes(path, t.Bytes);
                    return (path, t.Bytes.Length);
                })
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.BadInput($"{directory}: cannot write: {e.Message}");
        }
    }

    /// Every table file of the directory, by name, as (file name, bytes).
    public static IReadOnlyList<(string FileName, byte[] Bytes)> Read(string directory)
    {
        if (!Directory.Exists(directory))
            throw CliException.BadInput(File.Exists(directory)
                ? $"{directory}: expected a directory of ACPI table files, found a file"
                : $"{directory}: cannot read: no such directory");
        try
        {
            var tables = Directory.EnumerateFiles(directory)
                .Select(path => Path.GetFileName(path))
                .Where(IsTableFileName)
                .Order(StringComparer.Ordinal)
                .Select(name => (name, File.ReadAllBytes(Path.Combine(directory, name))))
                .ToList();
            if (tables.Count == 0)
                throw CliException.BadInput(
                    $"{directory}: no ACPI tables found (expected *.dat files, or files named by signature such as SRAT)");
            return tables;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.BadInput($"{directory}: cannot read: {e.Message}");
        }
    }

    static bool IsTableFileName(string name) =>
        name.EndsWith(".dat", StringComparison.OrdinalIgnoreCase) || BareSignature().IsMatch(name);

    [GeneratedRegex("^[A-Z0-9_]{4}$")]
    private static partial Regex BareSignature();
}
