using System.Reflection;
using SsiHv.Shell.Cli;
using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>
/// The real executable, as scripts run it: exit codes and streams of a separate process, so nothing the
/// in-process tests share with the runner (writers, exception handling) can hide a difference.
/// </summary>
public sealed class CliProcessTests : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    [Fact]
    public void GenerateSucceedsWithExitCodeZero()
    {
        var outDir = files.PathOf("acpi");
        var result = CliRun.AsProcess("acpi", "generate", "--topology", TestFiles.ExampleTopologyPath, "--out", outDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(File.Exists(Path.Combine(outDir, "SRAT.dat")));
    }

    [Fact]
    public void InvalidTopologyExitsTwoWithOneLinePerProblemAndNoStackTrace()
    {
        var file = files.ExampleWith("\"initiator\": 0", "\"initiator\": 5");
        var result = CliRun.AsProcess("acpi", "show", "--topology", file);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"{file}: nodes[1].initiator: no node has id 5", result.Stderr.Trim());
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void MissingTopologyFileExitsTwo()
    {
        var file = files.PathOf("absent.json");
        var result = CliRun.AsProcess("acpi", "generate", "--topology", file, "--out", files.PathOf("out"));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"{file}: cannot read: ", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void HelpExitsZero()
    {
        var result = CliRun.AsProcess("--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("acpi generate", result.Stdout);
    }

    [Fact]
    public void VersionPrintsTheInformationalVersionOfTheAssemblyAndExitsZero()
    {
        var version = typeof(CliRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var result = CliRun.AsProcess("--version");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"ssihv {version}\n", result.Stdout);
        Assert.Equal("", result.Stderr);
    }
}
