namespace SsiHv.Shell.Bench;

/// <summary>
/// <c>iasl -d</c> (acpica-tools) over a table set written to a temporary directory: each table must disassemble
/// with exit 0 and without an error or warning. The RSDP is skipped: iasl cannot load one ("Loading an RSDP is not
/// supported"). Null when iasl is not installed: the caller says so instead of failing.
/// </summary>
public static class IaslDisassembly
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    public static string? Executable =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "iasl"))
            .FirstOrDefault(File.Exists);

    /// The problems iasl reported, one line each (empty: every table disassembled cleanly).
    public static IReadOnlyList<string> Problems(string iasl, IEnumerable<(string Signature, byte[] Bytes)> tables)
    {
        var directory = Directory.CreateTempSubdirectory("ssihv-bench-acpi-").FullName;
        try
        {
            var problems = new List<string>();
            foreach (var (signature, bytes) in tables.Where(t => t.Signature != "RSDP"))
            {
                var file = Path.Combine(directory, $"{signature}.dat");
                File.WriteAllBytes(file, bytes);
                var run = BootObservation.RunAsync(new BootCommand(iasl, ["-d", file], new Dictionary<string, string>()), RunTimeout).GetAwaiter().GetResult();
                var complaints = run.Stdout.Concat(run.Stderr)
                    .Where(line => line.Contains("Error", StringComparison.Ordinal) || line.Contains("Warning", StringComparison.Ordinal))
                    .ToList();
                if (run.ExitCode != 0 || complaints.Count > 0)
                    problems.Add($"iasl -d {signature}.dat: exit {run.ExitCode}{(complaints.Count > 0 ? ": " + string.Join(" | ", complaints) : "")}");
            }
            return problems;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
