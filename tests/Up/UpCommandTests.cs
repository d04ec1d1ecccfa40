using SsiHv.Tests.Cli;
using Xunit;

namespace SsiHv.Tests.Up;

/// <summary>`ssihv up`'s input errors: exit 2, the file and field named, nothing started.</summary>
public sealed class UpCommandTests : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    [Fact]
    public void ATopologyFieldUpCannotUseIsNamedAsProcess()
    {
        var file = files.ExampleWith("\"address\": \"127.0.0.1:7101\"", "\"address\": \"127.0.0.1:65000\"");
        var result = CliRun.AsProcess("up", "--topology", file);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"{file}: nodes[1].address: port must be 1..64535 (the control API listens on port + 1000), found \"65000\"", result.Stderr.Trim());
    }

    [Fact]
    public void AnInvalidTopologyIsNamedByTheValidator()
    {
        var file = files.ExampleWith("\"initiator\": 0", "\"initiator\": 5");
        var result = CliRun.InProcess("up", "--topology", file);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"{file}: nodes[1].initiator: no node has id 5", result.Stderr.Trim());
    }

    [Fact]
    public void PortsThatClashOnLoopbackAreNamed()
    {
        var file = files.ExampleWith("\"address\": \"127.0.0.1:7101\"", "\"address\": \"127.0.0.1:8100\"");
        var result = CliRun.InProcess("up", "--topology", file);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{file}: nodes[1].address: port 8100 is also used by nodes[0].address (+1000 for HTTP)", result.Stderr);
    }

    [Fact]
    public void Netns_and_lab_together_are_bad_input()
    {
        var result = CliRun.InProcess("up", "--netns", "--lab");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("give --netns or --lab, not both", result.Stderr);
    }

    [Theory]
    [InlineData("--guest", "memtest", "--guest memtest: unknown guest; expected 'probe'")]
    [InlineData("--memory-budget", "1500K", "--memory-budget 1500K: expected a whole number of MiB")]
    [InlineData("--timeout", "-3", "--timeout -3: expected a number of seconds")]
    [InlineData("--timeout-scale", "ten", "--timeout-scale ten: expected a whole number from 1 to 100")]
    [InlineData("--timeout-scale", "0", "--timeout-scale: expected a whole number from 1 to 100, found 0")]
    [InlineData("--kernel", "/nonexistent/bzImage", "--kernel /nonexistent/bzImage: no such file")]
    public void BadOptionsExitTwoNamingTheOption(string option, string value, string expected)
    {
        var result = CliRun.InProcess("up", option, value);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    public void HelpDescribesTheCommand()
    {
        var result = CliRun.InProcess("up", "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("--netns", result.Stdout);
        Assert.Contains("Usage: ssihv up", result.Stdout);
        Assert.Contains("up ", CliRun.InProcess("--help").Stdout);
    }
}
