using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Spec = SsiHv.Core.Lab.LabMachine;

namespace SsiHv.Shell.Lab;

/// <summary>How a lab machine is sized and bounded; see docs/lab.md for what each costs.</summary>
public sealed record LabMachineOptions(
    int Cpus, int MemoryMiB, Spec.TcgThreading Threading, IReadOnlyList<string> WritableShares, Spec.Nic? Nic,
    TimeSpan BootTimeout, TimeSpan CommandTimeout)
{
    public static LabMachineOptions Default { get; } = new(
        2, 4096, Spec.TcgThreading.Single, [], null, TimeSpan.FromSeconds(180), TimeSpan.FromMinutes(30));
}

/// <summary>
/// One lab machine running one command (docs/lab.md): QEMU under TCG with emulated AMD-V boots the lab image,
/// its /init runs the command script, and the command's stdout and stderr arrive over two serial ports as they
/// are written. Every wait is bounded: the boot by <see cref="LabMachineOptions.BootTimeout"/>, the command by
/// <see cref="LabMachineOptions.CommandTimeout"/>. Dispose kills QEMU if it still runs and removes the machine's
/// temporary directory, on success, error or cancellation alike.
/// </summary>
public sealed class LabMachine : IDisposable
{
    const int KeptConsoleLines = 40;
    static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);
    static readonly TimeSpan PowerOffTimeout = TimeSpan.FromSeconds(30);
    static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    readonly LabMachineOptions options;
    readonly DirectoryInfo scratch;
    readonly Process qemu;
    readonly Socket stdoutListener;
    readonly Socket stderrListener;
    readonly Queue<string> consoleTail = new();
    readonly Queue<string> qemuErrors = new();
    readonly TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Task consoleReader;
    readonly Task qemuErrorReader;
    readonly Stopwatch clock = Stopwatch.StartNew();
    int disposed;

    LabMachine(LabMachineOptions options, DirectoryInfo scratch, Process qemu, Socket stdoutListener, Socket stderrListener)
    {
        this.options = options;
        this.scratch = scratch;
        this.qemu = qemu;
        this.stdoutListener = stdoutListener;
        this.stderrListener = stderrListener;
        consoleReader = ReadConsoleAsync();
        qemuErrorReader = ReadQemuErrorsAsync();
    }

    /// What the machine's console said last (kernel messages, /init's lines), for failure reports.
    public IReadOnlyList<string> ConsoleTail
    {
        get
        {
            lock (consoleTail)
                return consoleTail.ToList();
        }
    }

    /// Boots a machine that runs `command` (argv) in `workingDirectory` with `environment`.
    public static LabMachine Start(
        LabImageFiles image, LabMachineOptions options, string workingDirectory,
        IEnumerable<KeyValuePair<string, string>> environment, IReadOnlyList<string> command)
    {
        var script = Core.Lab.CommandScript.render(
            workingDirectory,
            ListModule.OfSeq(environment.Select(v => Tuple.Create(v.Key, v.Value))),
            ListModule.OfSeq(command));
        if (script.IsError)
            throw new LabException(script.ErrorValue);

        var scratch = Directory.CreateTempSubdirectory("ssihv-lab-");
        Socket? stdoutListener = null, stderrListener = null;
        try
        {
            var scriptPath = Path.Combine(scratch.FullName, "command.sh");
            File.WriteAllText(scriptPath, script.ResultValue);
            var spec = new Spec.MachineSpec(
                options.Cpus, options.MemoryMiB, options.Threading, image.Kernel, image.Initramfs, scriptPath,
                ListModule.OfSeq(options.WritableShares.Select(Path.GetFullPath)),
                Path.Combine(scratch.FullName, "stdout.sock"), Path.Combine(scratch.FullName, "stderr.sock"),
                options.Nic is null ? FSharpOption<Spec.Nic>.None : FSharpOption<Spec.Nic>.Some(options.Nic));
            var problems = Spec.validate(spec);
            if (!problems.IsEmpty)
                throw new LabException($"lab machine: {string.Join("; ", problems)}");
            stdoutListener = Listen(spec.StdoutSocket);
            stderrListener = Listen(spec.StderrSocket);

            var start = new ProcessStartInfo("qemu-system-x86_64")
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var argument in Spec.qemuArguments(spec))
                start.ArgumentList.Add(argument);
            Process qemu;
            try
            {
                qemu = Process.Start(start) ?? throw new LabException("cannot start qemu-system-x86_64");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new LabException($"cannot start qemu-system-x86_64 ({e.Message}): apt-get install qemu-system-x86");
            }
            return new LabMachine(options, scratch, qemu, stdoutListener, stderrListener);
        }
        catch
        {
            stdoutListener?.Dispose();
            stderrListener?.Dispose();
            scratch.Delete(recursive: true);
            throw;
        }
    }

    /// Streams the command's output into `stdout` and `stderr` and returns its exit code once the machine has
    /// powered off; throws <see cref="LabException"/> when the machine fails, and on a timeout after stopping it.
    public async Task<int> RunAsync(Stream stdout, Stream stderr, TextWriter progress, CancellationToken cancel)
    {
        var qemuEnded = qemu.WaitForExitAsync(CancellationToken.None);
        var stdoutPump = PumpAsync(stdoutListener, stdout, "stdout", qemuEnded);
        var stderrPump = PumpAsync(stderrListener, stderr, "stderr", qemuEnded);

        await Bounded(ready.Task, "boot", options.BootTimeout, qemuEnded, cancel);
        progress.WriteLine($"ssihv lab: machine ready after {clock.Elapsed.TotalSeconds:F1} s; running the command");
        var commandStart = clock.Elapsed;
        await Bounded(exited.Task, "command", options.CommandTimeout, qemuEnded, cancel);
        var code = exited.Task.Result;
        if (!await Finished(qemuEnded, PowerOffTimeout, cancel))
            throw new LabException($"the machine did not power off within {PowerOffTimeout.TotalSeconds} s after the command ended");
        if (!await Finished(Task.WhenAll(stdoutPump, stderrPump), DrainTimeout, cancel))
            throw new LabException($"the command's output did not arrive within {DrainTimeout.TotalSeconds} s after the machine stopped");
        await Task.WhenAll(stdoutPump, stderrPump);
        progress.WriteLine($"ssihv lab: the command exited with {code} after {(clock.Elapsed - commandStart).TotalSeconds:F1} s (machine up {clock.Elapsed.TotalSeconds:F1} s)");
        return code;
    }

    /// Starts a machine and runs it to its end (Start + RunAsync + Dispose).
    public static int Run(
        LabImageFiles image, LabMachineOptions options, string workingDirectory, IEnumerable<KeyValuePair<string, string>> environment,
        IReadOnlyList<string> command, Stream stdout, Stream stderr, TextWriter progress, CancellationToken cancel)
    {
        progress.WriteLine($"ssihv lab: starting a lab machine ({options.Cpus} CPUs, {options.MemoryMiB} MiB, kernel {image.Release}, TCG {(options.Threading.IsSingle ? "single" : "multi")}-threaded)");
        using var machine = Start(image, options, workingDirectory, environment, command);
        return machine.RunAsync(stdout, stderr, progress, cancel).GetAwaiter().GetResult();
    }

    async Task Bounded(Task awaited, string phase, TimeSpan limit, Task qemuEnded, CancellationToken cancel)
    {
        var timeout = Task.Delay(limit, cancel);
        var first = await Task.WhenAny(awaited, qemuEnded, timeout);
        if (first == awaited)
        {
            await awaited;
            return;
        }
        cancel.ThrowIfCancellationRequested();
        if (first == qemuEnded)
        {
            await Task.WhenAny(consoleReader, Task.Delay(DrainTimeout));
            if (awaited.IsCompleted)
            {
                await awaited;
                return;
            }
            throw new LabException($"QEMU exited with {qemu.ExitCode} before the {phase} ended{Explanation()}");
        }
        throw new LabException(phase == "boot"
            ? $"the machine was not ready within {limit.TotalSeconds} s (--boot-timeout); stopped it{Explanation()}"
            : $"the command was still running after {limit.TotalSeconds} s (--timeout); stopped the machine{Explanation()}");
    }

    string Explanation()
    {
        var lines = ConsoleTail.Concat(QemuErrors()).ToList();
        return lines.Count == 0 ? "" : $"; last lines:{Environment.NewLine}  {string.Join($"{Environment.NewLine}  ", lines)}";
    }

    IEnumerable<string> QemuErrors()
    {
        lock (qemuErrors)
            return qemuErrors.ToList();
    }

    static async Task<bool> Finished(Task task, TimeSpan limit, CancellationToken cancel) =>
        await Task.WhenAny(task, Task.Delay(limit, cancel)) == task;

    async Task ReadConsoleAsync()
    {
        while (await qemu.StandardOutput.ReadLineAsync() is { } line)
        {
            var consoleEvent = Spec.parseConsoleLine(line);
            switch (consoleEvent)
            {
                case Spec.ConsoleEvent.Exited e:
                    exited.TrySetResult(e.code);
                    break;
                case Spec.ConsoleEvent.SetupFailed f:
                    Keep(consoleTail, line.TrimEnd('\r'));
                    ready.TrySetException(new LabException($"the machine could not be prepared: {f.reason}{Explanation()}"));
                    break;
                default:
                    if (consoleEvent.IsReady)
                        ready.TrySetResult();
                    else
                        Keep(consoleTail, line.TrimEnd('\r'));
                    break;
            }
        }
    }

    async Task ReadQemuErrorsAsync()
    {
        while (await qemu.StandardError.ReadLineAsync() is { } line)
            // TCG lacks a few of EPYC's features (nrip-save, xsavec, ...): QEMU says so at every start, harmlessly.
            if (!line.Contains("TCG doesn't support requested feature", StringComparison.Ordinal))
                Keep(qemuErrors, line);
    }

    static void Keep(Queue<string> lines, string line)
    {
        lock (lines)
        {
            lines.Enqueue(line);
            while (lines.Count > KeptConsoleLines)
                lines.Dequeue();
        }
    }

    /// Accepts QEMU's connection to one serial socket and copies what arrives until QEMU closes it.
    static async Task PumpAsync(Socket listener, Stream target, string name, Task qemuEnded)
    {
        var accept = listener.AcceptAsync();
        if (await Task.WhenAny(accept, qemuEnded, Task.Delay(ConnectTimeout)) != accept)
        {
            if (qemuEnded.IsCompleted)
                return;
            throw new LabException($"QEMU did not connect the command's {name} within {ConnectTimeout.TotalSeconds} s");
        }
        using var connection = await accept;
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        await stream.CopyToAsync(target);
        await target.FlushAsync();
    }

    static Socket Listen(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(1);
        return socket;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        try
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
                qemu.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already reaped.
        }
        Task.WaitAny([Task.WhenAll(consoleReader, qemuErrorReader)], TimeSpan.FromSeconds(5));
        qemu.Dispose();
        stdoutListener.Dispose();
        stderrListener.Dispose();
        try
        {
            scratch.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a process that is being killed; the directory is in the system's temp.
        }
    }
}
