using System.Diagnostics;

namespace SsiHv.Shell.Processes;

/// <summary>
/// Runs one host tool (ip, apt-get, dpkg, depmod, xz, ...) to its end, bounded in time. Failures come back as
/// the caller's own exception type, with the command line, the exit code and the tool's stderr, so each caller
/// reports in its own terms (a network set-up error, a lab error) without repeating the process plumbing.
/// </summary>
public static class HostCommand
{
    /// Returns stdout; throws `failure(message)` when the tool cannot start, exits non-zero or outlives `timeout`.
    /// `stdin` (optional) is written to the tool's standard input, which is closed afterwards.
    public static string Run(
        string program, IReadOnlyList<string> arguments, TimeSpan timeout, Func<string, Exception> failure,
        string installHint, ReadOnlyMemory<byte> stdin = default, string? workingDirectory = null, Stream? stdoutTo = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var command = $"{program} {string.Join(' ', arguments)}";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw failure($"{command}: cannot start {program}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw failure($"{command}: cannot start {program} ({e.Message}); {installHint}");
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = stdoutTo is null
                ? process.StandardOutput.ReadToEndAsync()
                : process.StandardOutput.BaseStream.CopyToAsync(stdoutTo).ContinueWith(_ => "", TaskScheduler.Default);
            var input = Task.Run(() =>
            {
                try
                {
                    process.StandardInput.BaseStream.Write(stdin.Span);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The tool exited without reading all of its input; its exit code says why.
                }
            });
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw failure($"{command}: no answer within {timeout.TotalSeconds} s");
            }
            input.Wait(TimeSpan.FromSeconds(5));
            if (process.ExitCode != 0)
                throw failure($"{command}: exit {process.ExitCode}: {stderr.Result.Trim()}");
            return stdout.Result;
        }
    }
}
