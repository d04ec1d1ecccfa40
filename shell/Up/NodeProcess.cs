using System.Diagnostics;
using SsiHv.Interop.Linux;

namespace SsiHv.Shell.Up;

/// <summary>
/// One node host child process of `ssihv up`. Its stderr lines are relayed at once, prefixed `[node N]`, and
/// the last few are kept to explain an early exit; its stdout goes raw to `console` (the boot node's guest
/// console) or, prefixed, to the same log as stderr.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    const int KeptLines = 20;
    readonly Process process;
    readonly Queue<string> lastErrorLines = new();
    readonly Task relays;

    NodeProcess(int nodeId, Process process, TextWriter log, Stream? console)
    {
        NodeId = nodeId;
        this.process = process;
        Pid = process.Id;
        var stderr = RelayLinesAsync(process.StandardError, log, keep: true);
        var stdout = console is null
            ? RelayLinesAsync(process.StandardOutput, log, keep: false)
            : CopyRawAsync(process.StandardOutput.BaseStream, console);
        relays = Task.WhenAll(stderr, stdout);
        // Exit is only final once every line it printed before dying has been relayed.
        Exited = WaitForExitAsync();
    }

    public int NodeId { get; }
    public int Pid { get; }

    /// Completes with the exit code once the process has ended and its output is relayed.
    public Task<int> Exited { get; }

    public IReadOnlyList<string> LastErrorLines
    {
        get
        {
            lock (lastErrorLines)
                return lastErrorLines.ToList();
        }
    }

    public static NodeProcess Start(int nodeId, ProcessStartInfo start, TextWriter log, Stream? console)
    {
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
        // The node host reads no input; a closed stdin keeps it from ever waiting on our terminal.
        process.StandardInput.Close();
        return new NodeProcess(nodeId, process, log, console);
    }

    /// SIGTERM, then SIGKILL (with its children) if it has not ended within `grace`.
    public async Task StopAsync(TimeSpan grace)
    {
        if (process.HasExited)
            return;
        ProcessSignal.Terminate(Pid);
        if (await Task.WhenAny(Exited, Task.Delay(grace)) == Exited)
            return;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It ended between the wait and the kill.
        }
        await Task.WhenAny(Exited, Task.Delay(grace));
    }

    public void Dispose() => process.Dispose();

    async Task<int> WaitForExitAsync()
    {
        await process.WaitForExitAsync();
        await relays;
        return process.ExitCode;
    }

    async Task RelayLinesAsync(StreamReader reader, TextWriter log, bool keep)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            log.WriteLine($"[node {NodeId}] {line}");
            if (!keep)
                continue;
            lock (lastErrorLines)
            {
                lastErrorLines.Enqueue(line);
                if (lastErrorLines.Count > KeptLines)
                    lastErrorLines.Dequeue();
            }
        }
    }

    static async Task CopyRawAsync(Stream from, Stream to)
    {
        var buffer = new byte[4096];
        int read;
        while ((read = await from.ReadAsync(buffer)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read));
            await to.FlushAsync();
        }
    }
}
