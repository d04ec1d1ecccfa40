using SsiHv.Shell.Cli;
using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>Help for every command, and bad command lines as exit 2 with the usage line.</summary>
public sealed class CliUsageTests
{
    public static TheoryData<string> CommandNames() => [.. CliRunner.Commands.Select(c => c.Syntax.Command)];

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void EveryCommandHasHelp(string command)
    {
        var result = CliRun.InProcess([.. command.Split(' '), "--help"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith($"Usage: ssihv {command}", result.Stdout);
        Assert.Contains("-h, --help", result.Stdout);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public void TopLevelHelpListsEveryCommand(string flag)
    {
        var result = CliRun.InProcess(flag);
        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var command in CliRunner.Commands)
            Assert.Contains(command.Syntax.Command, result.Stdout);
    }

    [Fact]
    public void GroupHelpListsItsCommands()
    {
        var result = CliRun.InProcess("acpi", "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("generate", result.Stdout);
        Assert.Contains("check", result.Stdout);
    }

    [Theory]
    [InlineData(new string[0], "Usage: ssihv COMMAND")]
    [InlineData(new[] { "frob" }, "unknown command 'frob'")]
    [InlineData(new[] { "acpi" }, "ssihv acpi: missing command")]
    [InlineData(new[] { "acpi", "frob" }, "ssihv acpi: unknown command 'frob'")]
    [InlineData(new[] { "acpi", "generate", "--topology", "x.json" }, "missing --out DIR")]
    [InlineData(new[] { "acpi", "generate", "--out", "d", "--topology" }, "--topology needs a value")]
    [InlineData(new[] { "acpi", "generate", "--topology", "--out", "d" }, "--topology needs a value")]
    [InlineData(new[] { "acpi", "generate", "--topology=", "--out", "d" }, "--topology needs a non-empty value")]
    [InlineData(new[] { "acpi", "show", "--topology", "a", "--topology", "b" }, "--topology given more than once")]
    [InlineData(new[] { "acpi", "show", "--topology", "a", "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "acpi", "show", "--topology", "a", "extra" }, "unexpected argument 'extra'")]
    [InlineData(new[] { "acpi", "check" }, "missing DIR")]
    public void BadCommandLineIsBadInput(string[] args, string expected)
    {
        var result = CliRun.InProcess(args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void OptionValueMayFollowAnEqualsSign()
    {
        var result = CliRun.InProcess("acpi", "show", $"--topology={TestFiles.ExampleTopologyPath}");
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
