using System.Diagnostics;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>How to boot the Linux guest under QEMU (see <see cref="QemuLinux.Boot"/>).</summary>
public sealed record QemuBootOptions
{
    public int MemoryMiB { get; init; } = 1024;

    public int Cpus { get; init; } = 1;

    /// <summary>The <c>-accel</c> value: <c>tcg</c> emulates the CPU anywhere; <c>kvm</c> needs /dev/kvm (a lab
    /// machine has one).</summary>
    public string Accelerator { get; init; } = "tcg";

    /// <summary>The <c>-cpu</c> model; null keeps QEMU's default for the accelerator.</summary>
    public string? CpuModel { get; init; }

    /// <summary>The <c>-machine</c> value. SMM is off because SeaBIOS's SMM setup is slow under TCG and
    /// nothing here needs it; add <c>,hmat=on</c> when QEMU itself is to generate an HMAT.</summary>
    public string Machine { get; init; } = "pc,smm=off";

    /// <summary>ACPI table files (header included) passed as <c>-acpitable file=...</c>; QEMU installs them
    /// next to its own tables.</summary>
    public IReadOnlyList<string> AcpiTableFiles { get; init; } = [];

    /// <summary>Appended to QEMU's command line as given, e.g. <c>-numa</c> and <c>-object</c> options.</summary>
    public IReadOnlyList<string> ExtraQemuArgs { get; init; } = [];

    /// <summary>Appended to the kernel command line.</summary>
    public string ExtraKernelArgs { get; init; } = "";

    /// <summary>The whole boot, from QEMU's start to the end of the report, must fit in this.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>The outcome of one boot.</summary>
/// <param name="Numa">The parsed report.</param>
/// <param name="Console">Every line QEMU wrote to the serial console.</param>
/// <param name="Elapsed">From QEMU's start until it exited (or was killed).</param>
/// <param name="PoweredOff">The guest powered the machine off by itself (ACPI S5), so QEMU exited;
/// false when QEMU had to be killed after the report.</param>
public sealed record LinuxBoot(NumaView Numa, IReadOnlyList<string> Console, TimeSpan Elapsed, bool PoweredOff);

/// <summary>Serializes the tests that boot the guest (see <see cref="QemuLinux.TestCollection"/>).</summary>
[Xunit.CollectionDefinition(QemuLinux.TestCollection)]
public sealed class QemuLinuxTestCollection;

/// <summary>
/// Boots Debian's kernel under QEMU (TCG unless the options ask for KVM) with the harness initramfs and returns
/// the kernel's NUMA view.
/// </summary>
public static class QemuLinux
{
    /// <summary>Test collection for tests that boot the guest: boots in parallel would share the few host
    /// cores and each get slower, so they run one after another.</summary>
    public const string TestCollection = "QEMU Linux guest";

    // After the report the guest only has to power off; give it a moment before treating it as hung.
    static readonly TimeSpan PowerOffGrace = TimeSpan.FromSeconds(15);

    const int ConsoleTailLines = 60;

    /// quiet: less serial output to emulate. panic=-1: a panic (say, on tables the kernel rejects) reboots
    /// at once, which -no-reboot turns into QEMU exiting, instead of hanging until the timeout.
    public const string KernelArgs = "console=ttyS0 quiet panic=-1";

    /// <summary>QEMU's full argument list (without the program name) for a boot of <paramref name="images"/>.</summary>
    public static IReadOnlyList<string> QemuArguments(QemuBootOptions options, GuestImages images)
    {
        var args = new List<string>
        {
            "-machine", options.Machine,
            "-accel", options.Accelerator,
            "-m", $"{options.MemoryMiB}M",
            "-smp", options.Cpus.ToString(),
            "-nographic",
            "-no-reboot",
            // The ELF vmlinux boots through its PVH note: TCG then skips the xz decompression of vmlinuz,
            // half of a boot's time.
            "-kernel", images.KernelPath,
            "-initrd", images.InitramfsPath,
            "-append", string.IsNullOrWhiteSpace(options.ExtraKernelArgs) ? KernelArgs : $"{KernelArgs} {options.ExtraKernelArgs}",
        };
        if (options.CpuModel is { } model)
            args.AddRange(["-cpu", model]);
        foreach (var file in options.AcpiTableFiles)
        {
            // QEMU's option syntax escapes a comma inside a value by doubling it.
            args.Add("-acpitable");
            args.Add($"file={file.Replace(",", ",,")}");
        }
        args.AddRange(options.ExtraQemuArgs);
        return args;
    }

    /// <summary>
    /// Boots the guest, waits for its report and for it to power off, and parses the report. Throws
    /// <see cref="TimeoutException"/> when the report does not arrive within <see cref="QemuBootOptions.Timeout"/>
    /// and <see cref="InvalidOperationException"/> when QEMU exits without a complete report; both carry the
    /// console tail and QEMU's stderr.
    /// </summary>
    public static LinuxBoot Boot(QemuBootOptions options)
    {
        var images = GuestImages.Get();
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardInput = true, // -nographic multiplexes the monitor onto stdio; keep it off the test's terminal
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in QemuArguments(options, images))
            start.ArgumentList.Add(arg);

        var console = new List<string>();
        var stderr = new List<string>();
        var reportEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopwatch = Stopwatch.StartNew();
        using var qemu = new Process { StartInfo = start };
        qemu.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (console)
                console.Add(e.Data);
            if (e.Data.TrimEnd('\r') == NumaView.EndMarker)
                reportEnded.TrySetResult();
        };
        qemu.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (stderr)
                    stderr.Add(e.Data);
        };
        qemu.Start();
        qemu.BeginOutputReadLine();
        qemu.BeginErrorReadLine();

        string Diagnostics()
        {
            lock (console)
                lock (stderr)
                    return $"--- console (last {ConsoleTailLines} lines) ---\n" +
                           string.Join('\n', console.TakeLast(ConsoleTailLines)) +
                           $"\n--- qemu stderr ---\n{string.Join('\n', stderr)}\n" +
                           $"--- qemu command ---\nqemu-system-x86_64 {string.Join(' ', start.ArgumentList.Select(ShellQuote))}";
        }

        var exited = qemu.WaitForExitAsync();
        var first = Task.WaitAny([reportEnded.Task, exited], options.Timeout);
        if (first < 0)
        {
            qemu.Kill(entireProcessTree: true);
            qemu.WaitForExit();
            throw new TimeoutException($"no complete NUMA report within {options.Timeout}\n{Diagnostics()}");
        }

        var poweredOff = exited.Wait(PowerOffGrace);
        if (!poweredOff)
            qemu.Kill(entireProcessTree: true);
        // The parameterless overload also waits for the redirected output to be drained.
        qemu.WaitForExit();
        stopwatch.Stop();

        if (!reportEnded.Task.IsCompleted)
        {
            throw new InvalidOperationException(
                $"QEMU exited with code {qemu.ExitCode} before the report was complete\n{Diagnostics()}");
        }

        List<string> lines;
        lock (console)
            lines = [.. console];
        return new LinuxBoot(NumaView.Parse(lines), lines, stopwatch.Elapsed, poweredOff);
    }

    // Makes the logged command line copy-pastable into a shell.
    static string ShellQuote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_=,./:+@%".Contains(c))
            ? arg
            : $"'{arg.Replace("'", "'\\''")}'";
}
