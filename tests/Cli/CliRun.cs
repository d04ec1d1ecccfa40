using System.Diagnostics;
using SsiHv.Shell.Cli;

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

    /// `dotnet ssihv.dll ...`: the build copies the shell's ssihv.dll next to the test assembly.
    public static CliResult AsProcess(params string[] args) => AsProcess(TimeSpan.FromMinutes(1), args);

    public static CliResult AsProcess(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ssihv.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet ssihv.dll");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ssihv {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}
