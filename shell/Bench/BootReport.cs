using System.Globalization;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The text <c>ssihv bench boot</c> prints: per-run times to the guest's ready line (the probe's first PROBE line,
/// or a line Linux's init prints) and to exit, median and min of both VMMs, the ratios ours/QEMU,
/// where our time goes, and our start-up time and memory against Firecracker's published bars.
/// </summary>
public static class BootReport
{
    /// Firecracker SPECIFICATION.md: ≤125 ms from the InstanceStart API call to the guest's /sbin/init.
    public const double FirecrackerStartMs = 125;
    /// Firecracker SPECIFICATION.md: the VMM's threads have a memory overhead ≤5 MiB.
    public const double FirecrackerOverheadMiB = 5;

    public static IEnumerable<string> Lines(BootResults results, BootGuest guest)
    {
        var ready = guest.ReadyName;
        var ours = results.OurBoots;
        var qemu = results.QemuBoots;
        yield return "";
        yield return $"ours: {results.Ours.Display}";
        yield return $"QEMU: {results.Qemu.Display}";
        yield return "";
        yield return Row("run", $"ours {ready}", "ours exit", $"QEMU {ready}", "QEMU exit");
        for (var i = 0; i < ours.Count; i++)
            yield return Row(Text(i + 1), Ms(ReadyMs(ours[i].Observation)), Ms(ExitMs(ours[i].Observation)),
                Ms(ReadyMs(qemu[i])), Ms(ExitMs(qemu[i])));

        var ourReady = ours.Select(b => ReadyMs(b.Observation)).ToList();
        var ourExit = ours.Select(b => ExitMs(b.Observation)).ToList();
        var qemuReady = qemu.Select(ReadyMs).ToList();
        var qemuExit = qemu.Select(ExitMs).ToList();
        yield return Row("median", Ms(Median(ourReady)), Ms(Median(ourExit)), Ms(Median(qemuReady)), Ms(Median(qemuExit)));
        yield return Row("min", Ms(ourReady.Min()), Ms(ourExit.Min()), Ms(qemuReady.Min()), Ms(qemuExit.Min()));
        yield return "";
        yield return Invariant($"ours/QEMU, median: {ready} {Median(ourReady) / Median(qemuReady):F2}x, exit {Median(ourExit) / Median(qemuExit):F2}x");
        yield return Invariant($"ours/QEMU, min:    {ready} {ourReady.Min() / qemuReady.Min():F2}x, exit {ourExit.Min() / qemuExit.Min():F2}x");

        yield return "";
        yield return "where our time goes (median of each interval over the runs):";
        var phases = new (string Name, Func<OurBoot, double> Ms)[]
        {
            ("process start -> VM creation begins (runtime start, JIT, topology)", b => b.ToVmCreate.TotalMilliseconds),
            ("VM creation -> BSP's first KVM_RUN (tables, KVM VM, memory slots, vCPUs)", b => (b.ToFirstGuestEntry - b.ToVmCreate).TotalMilliseconds),
            ($"BSP's first KVM_RUN -> {ready} line (guest code)", b => ReadyMs(b.Observation) - b.ToFirstGuestEntry.TotalMilliseconds),
            ($"{ready} line -> guest powered off (rest of the guest's run)", b => b.ToGuestStopped.TotalMilliseconds - ReadyMs(b.Observation)),
            ("guest powered off -> process exit (memory report, teardown, runtime exit)", b => ExitMs(b.Observation) - b.ToGuestStopped.TotalMilliseconds),
        };
        var width = phases.Max(p => p.Name.Length);
        foreach (var (name, ms) in phases)
            yield return $"  {name.PadRight(width)}  {Ms(Median(ours.Select(ms).ToList()))}";

        yield return "";
        yield return "against Firecracker's bars (judged on the median):";
        var toGuest = ours.Select(b => b.ToFirstGuestEntry.TotalMilliseconds).ToList();
        yield return Invariant(
            $"  start to first guest instruction: {Median(toGuest):F1} ms (min {toGuest.Min():F1}); bar <= {FirecrackerStartMs:F0} ms: {Verdict(Median(toGuest) <= FirecrackerStartMs)}");
        yield return "    (Firecracker's bar runs from InstanceStart in an already running VMM to a Linux guest's /sbin/init;";
        yield return "     ours runs from process start to the guest's first instruction: more VMM start-up, no guest work)";
        var overhead = ours.Select(b => MiB(b.Memory.OverheadKiB)).ToList();
        var anonymous = ours.Select(b => MiB(b.Memory.AnonymousOverheadKiB)).ToList();
        var file = ours.Select(b => MiB(b.Memory.RssFileKiB)).ToList();
        var shared = ours.Select(b => MiB(b.Memory.RssShmemKiB)).ToList();
        var guestRam = ours.Select(b => MiB(b.Memory.GuestResidentKiB)).ToList();
        yield return Invariant(
            $"  VMM resident memory without guest RAM: {Median(overhead):F1} MiB; bar <= {FirecrackerOverheadMiB:F0} MiB: {Verdict(Median(overhead) <= FirecrackerOverheadMiB)}");
        yield return Invariant(
            $"    (VmRSS at power-off minus the {Median(guestRam):F1} MiB of guest RAM present in pagemap; {Median(anonymous):F1} MiB anonymous,");
        yield return Invariant(
            $"     {Median(file):F1} MiB file-backed (runtime, libraries, assemblies), {Median(shared):F1} MiB shared memory (the JIT's double-mapped code))");
    }

    static double ReadyMs(BootObservation boot) => boot.FirstReady!.Value.TotalMilliseconds;
    static double ExitMs(BootObservation boot) => boot.Exit.TotalMilliseconds;
    static double MiB(long kib) => kib / 1024.0;
    static string Verdict(bool pass) => pass ? "PASS" : "FAIL";

    static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    static string Row(string label, params string[] cells) =>
        label.PadRight(8) + string.Concat(cells.Select(c => c.PadLeft(18)));

    static string Ms(double ms) => Invariant($"{ms:F1} ms");
    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
    static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
