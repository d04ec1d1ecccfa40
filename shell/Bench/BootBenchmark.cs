using SsiHv.Shell.Processes;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Shell.Bench;

/// <summary>One boot by our VMM, with the marks and memory its <see cref="BootTimeline"/> reported.</summary>
public sealed record OurBoot(BootObservation Observation, long VmCreateTicks, long FirstGuestEntryTicks, long GuestStoppedTicks, VmmMemory Memory)
{
    public TimeSpan ToVmCreate => Observation.SinceStart(VmCreateTicks);
    public TimeSpan ToFirstGuestEntry => Observation.SinceStart(FirstGuestEntryTicks);
    public TimeSpan ToGuestStopped => Observation.SinceStart(GuestStoppedTicks);
}

/// <summary>Every run of both VMMs, in the order they ran.</summary>
public sealed record BootResults(BootCommand Ours, BootCommand Qemu, IReadOnlyList<OurBoot> OurBoots, IReadOnlyList<BootObservation> QemuBoots);

/// <summary>
/// <c>ssihv bench boot</c>: boots the guest `runs` times with <c>ssihv run</c> (this very executable, in a child
/// process, so every run pays the start-up a user pays) and `runs` times with QEMU, alternating so that host noise
/// falls on both alike. A run counts only if it ended as the guest ends when all went well (<see cref="BootGuest.Problem"/>).
/// </summary>
public static class BootBenchmark
{
    public static BootResults Run(CoreTopology topology, string topologyPath, BootGuest guest, int runs, Action<string> progress)
    {
        var ours = OurCommand(topologyPath, guest);
        var qemu = QemuReference.Command(topology, guest);
        var ourBoots = new List<OurBoot>();
        var qemuBoots = new List<BootObservation>();
        for (var run = 1; run <= runs; run++)
        {
            var our = ParseOurBoot(run, Checked("ours", run, guest, Observe(ours, guest)));
            var reference = Checked("QEMU", run, guest, Observe(qemu, guest));
            ourBoots.Add(our);
            qemuBoots.Add(reference);
            progress(FormattableString.Invariant(
                $"run {run}/{runs}: ours {guest.ReadyName} {our.Observation.FirstReady!.Value.TotalMilliseconds:F0} ms, exit {our.Observation.Exit.TotalMilliseconds:F0} ms; QEMU {guest.ReadyName} {reference.FirstReady!.Value.TotalMilliseconds:F0} ms, exit {reference.Exit.TotalMilliseconds:F0} ms"));
        }
        return new BootResults(ours, qemu, ourBoots, qemuBoots);
    }

    /// `ssihv run` of this same build: the apphost when we were started through it, else `dotnet ssihv.dll`.
    static BootCommand OurCommand(string topologyPath, BootGuest guest)
    {
        // "--append=" keeps an append string that starts with "--" from being read as an option.
        string[] runArguments = guest switch
        {
            BootGuest.Linux linux =>
            [
                "run", "--topology", topologyPath, "--kernel", linux.Kernel,
                .. linux.Initrd is { } initrd ? (string[])["--initrd", initrd] : [],
                $"--append={guest.Append}",
            ],
            _ => ["run", "--topology", topologyPath, "--guest", "probe", $"--append={guest.Append}"],
        };
        var environment = new Dictionary<string, string> { [BootTimeline.Variable] = "1" };
var (program, arguments) = SelfCommand.For(runArguments);
        return new BootCommand(program, [.. arguments], environment);
    }

    static BootObservation Observe(BootCommand command, BootGuest guest) =>
        BootObservation.RunAsync(command, guest.RunTimeout, guest.ReadyLinePrefix).GetAwaiter().GetResult();

    static BootObservation Checked(string who, int run, BootGuest guest, BootObservation boot) =>
        guest.Problem(boot) is { } problem ? throw new BenchRunException($"run {run} of {who}: {problem}", boot.Tail()) : boot;

    static OurBoot ParseOurBoot(int run, BootObservation boot)
    {
        var marks = new Dictionary<string, long>();
        VmmMemory? memory = null;
        foreach (var line in boot.Stderr)
            if (BootTimeline.TryParse(line, out var parsed))
                switch (parsed)
                {
                    case TimelineLine.MarkLine mark:
                        marks.TryAdd(mark.Name, mark.Ticks); // the first boot's marks, should the guest ever reboot
                        break;
                    case TimelineLine.MemoryLine m:
                        memory ??= m.Memory;
                        break;
                }
        string[] expected = [BootTimeline.VmCreate, BootTimeline.FirstGuestEntry, BootTimeline.GuestStopped];
        if (memory is null || expected.Any(name => !marks.ContainsKey(name)))
            throw new BenchRunException(
                $"run {run} of ours: ssihv run did not report its timeline on stderr ({BootTimeline.Variable}=1 was set)", boot.Tail());
        return new OurBoot(boot, marks[BootTimeline.VmCreate], marks[BootTimeline.FirstGuestEntry], marks[BootTimeline.GuestStopped], memory);
    }
}
