using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using SsiHv.Shell.Bench;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Bench;

/// <summary>
/// <c>ssihv bench startup</c> as a real process. Under test.sh the full run measures the native build under test
/// (SSIHV_EXECUTABLE) against the JIT build; run without it (plain `dotnet test`) the "native" side is the JIT build
/// through a shell script, which checks the measuring and every report line but not the native build. Not a
/// timing assertion.
/// </summary>
public sealed class StartupBenchTests : IDisposable
{
    static readonly TimeSpan BenchTimeout = TestScale.Minutes(3);
    static readonly string JitBuild = Path.Combine(AppContext.BaseDirectory, "ssihv.dll");
    readonly DirectoryInfo scratch = Directory.CreateTempSubdirectory("ssihv-bench-startup-test-");

    public void Dispose() => scratch.Delete(recursive: true);

    const string Number = @"\d+\.\d";

    [SupportedOSPlatform("linux")]
    string JitStandIn()
    {
        var script = Path.Combine(scratch.FullName, "ssihv");
        File.WriteAllText(script, $"#!/bin/sh\nexec dotnet '{JitBuild}' \"$@\"\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void A_run_reports_both_builds_the_ratio_and_each_goal_with_numbers()
    {
        var standIn = SsihvCommand.NativeExecutable ?? JitStandIn();

        var result = CliRun.AsProcess(BenchTimeout, "bench", "startup", "--runs", "2", "--native", standIn, "--jit", JitBuild);
        Assert.True(result.ExitCode == 0, result.ToString());
        var stdout = result.Stdout;
        Assert.Contains($"native: {standIn}\n", stdout);
        Assert.Matches($@"JIT: +\S*dotnet {Regex.Escape(JitBuild)}\n", stdout);
        Assert.Contains("2 runs of each build, alternating, after one unmeasured warm-up run of each", stdout);
        var time = $"median {Number} ms, p90 {Number} ms";
        var size = $"median {Number} MiB, max {Number} MiB";
        foreach (var (what, figures) in new[]
        {
            ("--version, start to exit", time),
            ("acpi show --topology two-node.json, start to exit", time),
            (@"acpi show, peak RSS \(ru_maxrss\)", size),
            ("node host \\(boot node\\), start to first GET /v1/health 200", time),
            ("node host, VmRSS at its first GET /v1/health 200", size),
            ("node host, SIGTERM to exit", time),
        })
            Assert.Matches(new Regex($"^{what}: native {figures}; JIT {figures}; native/JIT \\d+\\.\\d\\d$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex($"^goal: acpi show, start to exit, native median <= 30 ms: {Number} ms: (met|not met)$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex($"^goal: node host ready, native median <= 150 ms: {Number} ms: (met|not met)$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex($"^goal: acpi show peak RSS, native max <= 25 MiB: {Number} MiB: (met|not met)$", RegexOptions.Multiline), stdout);
    }

    [Fact]
    public void A_missing_native_build_exits_1_naming_the_path_and_the_command_that_builds_it()
    {
        var missing = Path.Combine(scratch.FullName, "no-such-build", "ssihv");
        var result = CliRun.AsProcess(BenchTimeout, "bench", "startup", "--native", missing, "--jit", JitBuild);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal($"ssihv bench startup: the native build {missing} is missing; build it from the repository's root with: {StartupBuilds.NativeBuildCommand}\n", result.Stderr);
    }

    [Theory]
    [InlineData("startup", "--runs", "0", "ssihv bench startup: --runs 0: expected a whole number from 1 to 1000")]
    [InlineData("startup", "--budget", "8M", "ssihv bench startup: --budget does not apply to 'bench startup'")]
    [InlineData("startup", "--topology", "two-node.json", "ssihv bench startup: --topology does not apply to 'bench startup'")]
    [InlineData("acpi", "--native", "ssihv", "ssihv bench acpi: --native does not apply to 'bench acpi'")]
    public void Bad_arguments_exit_2(string kind, string option, string value, string message)
    {
        var result = CliRun.AsProcess(BenchTimeout, "bench", kind, option, value);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public void Each_build_finds_the_other_where_the_repository_layout_puts_it()
    {
        Assert.Equal(("/repo/shell/bin/native/ssihv", "/repo/shell/bin/Release/net10.0/ssihv.dll"),
            StartupBuilds.Defaults(thisIsNative: false, "/usr/bin/dotnet", "/repo/shell/bin/Release/net10.0/"));
        Assert.Equal(("/repo/shell/bin/native/ssihv", "/repo/shell/bin/Release/net10.0/ssihv.dll"),
            StartupBuilds.Defaults(thisIsNative: true, "/repo/shell/bin/native/ssihv", "/repo/shell/bin/native/"));
    }

    [Fact]
    public void The_JIT_build_runs_with_this_dotnet_else_the_first_on_PATH_else_DOTNET_ROOTs()
    {
        Assert.Equal("/opt/dn/dotnet", StartupBuilds.DotnetHost("/opt/dn/dotnet", "/usr/bin", null, _ => true));
        Assert.Equal("/b/dotnet", StartupBuilds.DotnetHost("/repo/shell/bin/native/ssihv", "/a:/b", "/root/.dotnet", path => path == "/b/dotnet"));
        Assert.Equal("/root/.dotnet/dotnet", StartupBuilds.DotnetHost("/x/ssihv", "/a", "/root/.dotnet", path => path.StartsWith("/root/", StringComparison.Ordinal)));
        Assert.Null(StartupBuilds.DotnetHost("/x/ssihv", "/a", null, _ => false));
    }

    [Theory]
    [InlineData(new[] { 20.0, 30.0, 40.0 }, null, "met")]
    [InlineData(new[] { 20.0, 31.0, 40.0 }, null, "not met")]
    [InlineData(new[] { 20.0 }, "exit 1: NotSupportedException", "not met")]
    [InlineData(new double[0], null, "not met")]
    public void A_goal_is_met_only_by_a_measured_median_within_it(double[] values, string? failure, string verdict) =>
        Assert.Equal(verdict, StartupReport.Verdict(new BuildRuns(values, failure), StartupReport.AcpiShowGoalMilliseconds, FaultStatistics.Median));
}
