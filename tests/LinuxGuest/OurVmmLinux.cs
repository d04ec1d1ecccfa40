using SsiHv.Tests.Cli;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>The outcome of one <c>ssihv run</c> of the Linux guest: what the command returned and printed (the
/// guest console is its stdout) and the guest's report, when it printed a whole one.</summary>
public sealed record OurLinuxRun(CliResult Result, NumaView? Numa, string? ReportProblem)
{
    public IReadOnlyList<string> ConsoleLines => Result.Stdout.Split('\n');
}

/// <summary>
/// Boots Debian's kernel with the harness initramfs (<see cref="GuestImages"/>) under our own VMM:
/// <c>ssihv run --topology FILE --kernel FILE --initrd FILE</c> in a child process, the way a user runs it.
/// </summary>
public static class OurVmmLinux
{
    public static OurLinuxRun Boot(string topologyPath, string kernelPath, TimeSpan timeout)
    {
        var images = GuestImages.Get();
        // --timeout is the VMM's own limit; the process gets a minute more, so only a hung VMM reaches it.
        var result = CliRun.AsProcess(timeout + TimeSpan.FromMinutes(1),
            "run", "--topology", topologyPath, "--kernel", kernelPath, "--initrd", images.InitramfsPath,
            $"--append={QemuLinux.KernelArgs}", "--timeout", ((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            return new OurLinuxRun(result, NumaView.Parse(result.Stdout.Split('\n')), null);
        }
        catch (FormatException e)
        {
            return new OurLinuxRun(result, null, e.Message);
        }
    }
}
