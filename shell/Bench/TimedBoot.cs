using System.ComponentModel;
using System.Diagnostics;

namespace SsiHv.Shell.Bench;

/// <summary>A process to boot a guest with: the executable, its arguments and extra environment.</summary>
public sealed record BootCommand(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment)
{
    /// The command as a person would type it (for the report; arguments with spaces are quoted).
    public string Display =>
        string.Join(' ', Environment.Select(e => $"{e.Key}={e.Value}")
            .Append(FileName)
            .Concat(Arguments.Select(a => a.Contains(' ') ? $"'{a}'" : a)));
}

/// <summary>
/// One boot of a guest in a child process, timed from just before the process is started to the first line on
/// its stdout that starts with the ready prefix (the probe's <c>PROBE </c> unless told otherwise) and to its exit.
/// Timestamps are <see cref="Stopwatch"/> ticks so that marks the child reports (<see cref="BootTimeline"/>) can
/// be placed on the same clock.
/// </summary>
public sealed record BootObservation(
    long StartTicks, long? FirstReadyTicks, long ExitTicks, int ExitCode,
    IReadOnlyList<string> Stdout, IReadOnlyList<string> Stderr)
{
    public const string ProbeLinePrefix = "PROBE ";

    public TimeSpan Exit => Stopwatch.GetElapsedTime(StartTicks, ExitTicks);
    public TimeSpan? FirstReady => FirstReadyTicks is { } ticks ? Stopwatch.GetElapsedTime(StartTicks, ticks) : null;

    public TimeSpan SinceStart(long ticks) => Stopwatch.GetElapsedTime(StartTicks, ticks);

    /// Runs `command` to its end; a run still going after `timeout` (or whose output never ends) is killed
    /// together with its children and reported as a <see cref="BenchRunException"/>.
    public static async Task<BootObservation> RunAsync(BootCommand command, TimeSpan timeout, string readyLinePrefix = ProbeLinePrefix)
    {
        var start = new ProcessStartInfo(command.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A pipe we never write to: QEMU's `-serial stdio` would otherwise put the user's terminal in raw mode.
            RedirectStandardInput = true,
        };
        foreach (var argument in command.Arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in command.Environment)
            start.Environment[name] = value;

        var stdout = new List<string>();
        var stderr = new List<string>();
        long? firstReady = null;
        long exited = 0;
        using var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null)
                return;
            var now = Stopwatch.GetTimestamp();
            lock (stdout)
            {
                stdout.Add(line.Data);
                if (firstReady is null && line.Data.StartsWith(readyLinePrefix, StringComparison.Ordinal))
                    firstReady = now;
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
                lock (stderr)
                    stderr.Add(line.Data);
        };
        process.Exited += (_, _) => Interlocked.CompareExchange(ref exited, Stopwatch.GetTimestamp(), 0);

        var startTicks = Stopwatch.GetTimestamp();
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new BenchRunException($"cannot start {command.FileName}: {e.Message}");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var limit = new CancellationTokenSource(timeout);
        try
        {
            // Completes once the process has exited and both output pipes have reached their end.
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(KillTimeout);
            lock (stdout)
                lock (stderr)
                    throw new BenchRunException(
                        $"still running (or holding its output open) after {timeout.TotalSeconds} s; killed it",
                        Tail(stdout, stderr));
        }
        // The Exited event can lag behind WaitForExitAsync only by the time it takes to run the handlers.
        var exitTicks = Interlocked.Read(ref exited);
        if (exitTicks == 0)
            exitTicks = Stopwatch.GetTimestamp();
        return new BootObservation(startTicks, firstReady, exitTicks, process.ExitCode, stdout, stderr);
    }

    /// The last lines of output, for a failure message.
    public IReadOnlyList<string> Tail() => Tail(Stdout, Stderr);

    static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(5);
    const int TailLines = 8;

    static IReadOnlyList<string> Tail(IEnumerable<string> stdout, IEnumerable<string> stderr) =>
        [.. stdout.TakeLast(TailLines).Select(l => $"  stdout: {l}"), .. stderr.TakeLast(TailLines).Select(l => $"  stderr: {l}")];
}

/// <summary>A benchmark run that did not end as it should (exit 1); Details are output lines.</summary>
public sealed class BenchRunException(string message, IReadOnlyList<string>? details = null) : Exception(message)
{
    public IReadOnlyList<string> Details { get; } = details ?? [];
}
