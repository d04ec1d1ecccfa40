using System.Diagnostics;
using Xunit;

namespace SsiHv.Tests.Support;

/// <summary>What a finished external program returned and printed.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"{Command}: exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs a program the tests depend on (gcc, iasl, readelf, ssihv itself) with no standard input, both output
/// streams captured, and a time limit after which it is killed with its children: no test waits forever.
/// </summary>
public static class ExternalProcess
{
    public static ProcessResult Run(
        string program, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        var command = $"{program} {string.Join(' ', start.ArgumentList)}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {command}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish within {timeout.TotalSeconds} s");
        }
        return new ProcessResult(command, process.ExitCode, stdout.Result, stderr.Result);
    }

    /// Runs the program and requires exit 0; returns its standard output.
    public static string Output(string program, params string[] arguments)
    {
        var result = Run(program, arguments, TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }
}
