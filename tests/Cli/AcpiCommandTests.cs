using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>The acpi commands on the example topology, and <c>acpi check</c> on broken tables.</summary>
public sealed class AcpiCommandTests : IDisposable
{
    static readonly string[] ExpectedTables = ["RSDP", "XSDT", "FACP", "FACS", "DSDT", "APIC", "SRAT", "SLIT", "HMAT"];

    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    string Generate()
    {
        var outDir = files.PathOf("acpi");
        var result = CliRun.InProcess("acpi", "generate", "--topology", TestFiles.ExampleTopologyPath, "--out", outDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        return outDir;
    }

    [Fact]
    public void GenerateWritesOneFilePerTableAndListsThem()
    {
        var outDir = files.PathOf("nested/acpi");
        var result = CliRun.InProcess("acpi", "generate", "--topology", TestFiles.ExampleTopologyPath, "--out", outDir);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
        foreach (var signature in ExpectedTables)
        {
            var path = Path.Combine(outDir, $"{signature}.dat");
            Assert.True(File.Exists(path), $"{path} missing");
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(signature == "RSDP" ? "RSD PTR " : signature, System.Text.Encoding.ASCII.GetString(bytes, 0, signature == "RSDP" ? 8 : 4));
            Assert.Contains($"{path}  ", result.Stdout);
            Assert.Contains($"{bytes.Length,6} bytes", result.Stdout);
        }
    }

    [Fact]
    public void CheckAcceptsGeneratedTables()
    {
        var result = CliRun.InProcess("acpi", "check", Generate());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("decoded: RSDP XSDT FACP FACS DSDT APIC SRAT SLIT HMAT", result.Stdout);
        Assert.Contains("consistent", result.Stdout);
    }

    [Fact]
    public void CheckReportsAFlippedByteAsBadInputNamingTableAndOffset()
    {
        var outDir = Generate();
        var srat = Path.Combine(outDir, "SRAT.dat");
        var bytes = File.ReadAllBytes(srat);
        bytes[60] ^= 0xFF;
        File.WriteAllBytes(srat, bytes);

        var result = CliRun.InProcess("acpi", "check", outDir);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("SRAT (SRAT.dat) at offset 9 (0x9): checksum is wrong", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void CheckReportsABrokenStructureAtItsOffset()
    {
        var outDir = Generate();
        var srat = Path.Combine(outDir, "SRAT.dat");
        var bytes = File.ReadAllBytes(srat);
        // The first affinity structure starts after the 36-byte header and 12 reserved bytes; its length byte
        // follows its type. A length running past the table's end is repaired in the checksum, so that the
        // structure itself is what fails.
        const int firstStructure = 48;
        bytes[firstStructure + 1] = 0xFF;
        bytes[9] = 0;
        bytes[9] = (byte)(256 - bytes.Sum(b => b) % 256);
        File.WriteAllBytes(srat, bytes);

        var result = CliRun.InProcess("acpi", "check", outDir);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.True(result.Stderr.Contains($"SRAT (SRAT.dat) at offset {firstStructure} (0x30)"), result.ToString());
    }

    [Fact]
    public void CheckOfAMissingDirectoryIsBadInput()
    {
        var missing = files.PathOf("no-such-dir");
        var result = CliRun.InProcess("acpi", "check", missing);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"{missing}: cannot read", result.Stderr);
    }

    [Fact]
    public void CheckOfADirectoryWithoutTablesIsBadInput()
    {
        var result = CliRun.InProcess("acpi", "check", files.Directory);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("no ACPI tables found", result.Stderr);
    }

    [Fact]
    public void CheckReadsFilesNamedBySignatureAsQemuStoresThem()
    {
        var outDir = Generate();
        File.Move(Path.Combine(outDir, "SLIT.dat"), Path.Combine(outDir, "SLIT"));
        var result = CliRun.InProcess("acpi", "check", outDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("SLIT", result.Stdout);
    }

    [Fact]
    public void ShowRendersWhatTheGuestDecodes()
    {
        var result = CliRun.InProcess("acpi", "show", "--topology", TestFiles.ExampleTopologyPath);

        Assert.True(result.ExitCode == 0, result.ToString());
        var text = result.Stdout;
        Assert.Contains("node 0: 2 CPUs, 1023.63 MiB (1073348608 bytes) memory, initiator node 0 (HMAT)", text);
        Assert.Contains("node 1: no CPUs, 1 GiB memory, initiator node 0 (HMAT)", text);
        Assert.Contains("APIC ID   1 -> node 0", text);
        Assert.Contains("node 0: 0x000000000000-0x00000009FFFF  640 KiB", text);
        Assert.Contains("node 0: 0x000000100000-0x00003FFFFFFF  1023 MiB", text);
        Assert.Contains("node 1: 0x000040000000-0x00007FFFFFFF  1 GiB", text);
        Assert.Contains("from 1    40    10", text);
        Assert.Contains("HMAT access latency (ns)", text);
        Assert.Contains("initiator 0       100      2000", text);
        Assert.Contains("initiator 0     20480      5120", text);
        Assert.Contains("node 1: level 1 of 1, 64 MiB, direct-mapped, write-back, 64-byte lines", text);
    }

    [Fact]
    public void ShowWithoutHmatSaysSo()
    {
        var topology = files.Topology("""{ "nodes": [ { "id": 0, "cpus": 1, "memoryMiB": 128 }, { "id": 1, "cpus": 1, "memoryMiB": 128 } ] }""");
        var result = CliRun.InProcess("acpi", "show", "--topology", topology);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("from 0    10    20", result.Stdout);
        Assert.Contains("HMAT access latency (ns): none", result.Stdout);
        Assert.Contains("Memory-side caches (HMAT): none", result.Stdout);
    }
}
