using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Acpi;

/// <summary>ACPICA's disassembler (Debian's acpica-tools) must read every generated table without complaint.</summary>
public sealed class IaslDisassemblyTests(ITestOutputHelper output)
{
    public static TheoryData<string> Topologies => new(GeneratedTables.TestTopologies);

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Iasl_disassembles_every_generated_table_without_errors_or_warnings(string topology)
    {
        using var tables = new GeneratedTables(topology);
        var files = tables.TableFiles.ToList();
        Assert.Equal(9, files.Count);
        foreach (var file in files.Where(f => Path.GetFileName(f) != "RSDP.dat"))
        {
            var (exitCode, log) = Iasl.Run(file, "-d", Path.GetFileName(file));
            output.WriteLine(log);
            Assert.True(exitCode == 0, $"iasl -d {Path.GetFileName(file)} exited {exitCode}:\n{log}");
            foreach (var word in new[] { "Error", "Warning", "Remark", "****" })
                Assert.False(log.Contains(word, StringComparison.Ordinal), $"iasl -d {Path.GetFileName(file)} printed \"{word}\":\n{log}");
            var dsl = Path.ChangeExtension(file, ".dsl");
            Assert.True(File.Exists(dsl), $"iasl wrote no {dsl}");
            Assert.DoesNotContain("**** ", File.ReadAllText(dsl));
        }
    }

    /// iasl cannot disassemble an RSDP file ("Loading an RSDP is not supported" in ACPICA's source), so the RSDP
    /// is checked the other way round: iasl compiles its own RSDP template filled with our values (read here
    /// straight from the bytes), computing both checksums itself, and must produce exactly our 36 bytes.
    [Theory]
    [MemberData(nameof(Topologies))]
    public void Iasl_compiles_our_rsdp_values_to_our_exact_bytes(string topology)
    {
        using var tables = new GeneratedTables(topology);
        var ours = File.ReadAllBytes(tables.PathOf("RSDP"));
        Assert.Equal(36, ours.Length);
        var oemId = System.Text.Encoding.ASCII.GetString(ours, 9, 6);
        var xsdtAddress = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(ours.AsSpan(24, 8));
        var source = Path.Combine(tables.Directory, "rsdp-template.asl");
        File.WriteAllText(source, $"""
            [0008]                          Signature : "RSD PTR "
            [0001]                           Checksum : 00
            [0006]                             Oem ID : "{oemId}"
            [0001]                           Revision : 02
            [0004]                       RSDT Address : 00000000
            [0004]                             Length : 00000024
            [0008]                       XSDT Address : {xsdtAddress:X16}
            [0001]                  Extended Checksum : 00
            [0003]                           Reserved : 000000
            """);
        var (exitCode, log) = Iasl.Run(source, Path.GetFileName(source));
        output.WriteLine(log);
        Assert.True(exitCode == 0, log);
        Assert.Contains("0 Errors, 0 Warnings, 0 Remarks", log);
        Assert.Equal(ours, File.ReadAllBytes(Path.ChangeExtension(source, ".aml")));
    }
}

public static class Iasl
{
    /// Runs iasl with `arguments` in `file`'s directory; returns its exit code and everything it printed.
    public static (int ExitCode, string Log) Run(string file, params string[] arguments)
    {
        var result = ExternalProcess.Run("iasl", arguments, TimeSpan.FromSeconds(30), Path.GetDirectoryName(file));
        return (result.ExitCode, result.Stdout + result.Stderr);
    }
}
