namespace SsiHv.Shell.Bench;

/// <summary>
/// What <c>ssihv bench boot</c> boots in both VMMs, and how a run is judged: the probe guest, or a Linux kernel
/// (with its initramfs) up to the first line its user space prints. `ReadyLinePrefix` marks the moment both
/// VMMs are timed to; `ReadyName` names it in the report.
/// </summary>
public abstract record BootGuest(string ReadyLinePrefix, string ReadyName, string Append, TimeSpan RunTimeout)
{
    /// The probe ELF through PVH; its first PROBE line is printed by its CPL0 code right after entry.
    public sealed record Probe(string Elf, string Append)
        : BootGuest(BootObservation.ProbeLinePrefix, "first PROBE", Append, ProbeRunTimeout);

    /// Linux through PVH (an ELF vmlinux) or the bzImage protocol. Timed to `ReadyLine`, a line its init prints:
    /// the boot ends in user space, which is what a user waits for.
    public sealed record Linux(string Kernel, string? Initrd, string ReadyLine, string Append)
        : BootGuest(ReadyLine, "ready line", Append, LinuxRunTimeout);

    /// Generous next to the ≈1.5 s a probe boot takes on a KVM host, so a slow run is measured rather than killed.
    public static readonly TimeSpan ProbeRunTimeout = TimeSpan.FromSeconds(120);
    /// A Linux boot takes seconds on a KVM host and one to two minutes in a lab machine (TCG under nested KVM).
    public static readonly TimeSpan LinuxRunTimeout = TimeSpan.FromSeconds(600);

    /// Why a finished run does not count (null when it does): it must reach its ready line and end the way the
    /// guest ends when all went well.
    public string? Problem(BootObservation boot)
    {
        if (boot.ExitCode != 0)
            return $"exited with code {boot.ExitCode}";
        switch (this)
        {
            case Probe:
                if (boot.Stdout.FirstOrDefault(l => l.StartsWith(BootObservation.ProbeLinePrefix + "error", StringComparison.Ordinal)) is { } error)
                    return $"the probe reported an error: {error}";
                if (boot.FirstReady is null)
                    return "the probe printed no PROBE line";
                if (!boot.Stdout.Any(l => l.StartsWith(BootObservation.ProbeLinePrefix + "poweroff", StringComparison.Ordinal)))
                    return "the probe did not reach its power-off";
                return null;
            default:
                // Exit 0 is the power-off for both VMMs: `ssihv run` exits 0 on S5 (and on a reset, which the
                // kernel only does after a panic, long after its init printed).
                return boot.FirstReady is null ? $"the guest never printed a line starting with \"{ReadyLinePrefix}\"" : null;
        }
    }
}
