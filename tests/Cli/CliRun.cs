using SsiHv.Shell.Cli;
using SsiHv.Tests.Support;

namespace SsiHv.Tests.Cli;

/// <summary>What one <c>ssihv</c> invocation returned and printed.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs <c>ssihv</c> in-process through its real entry logic, or as a real process.</summary>
public static class CliRun
{
    public static CliResult InProcess(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exitCode = CliRunner.Run(args, stdout, stderr);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// `ssihv ...` as a process (SsihvCommand: the native build under test.sh, else dotnet ssihv.dll).
    public static CliResult AsProcess(params string[] args) => AsProcess(TimeSpan.FromMinutes(1), args);

    public static CliResult AsProcess(TimeSpan timeout, params string[] args)
    {
        var (program, arguments) = SsihvCommand.For(args);
        var result = ExternalProcess.Run(program, arguments, timeout);
        return new CliResult(result.ExitCode, result.Stdout, result.Stderr);
    }
}
