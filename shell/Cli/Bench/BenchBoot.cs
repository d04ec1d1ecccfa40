using SsiHv.Core.Input;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Input;
using SsiHv.Shell.Topology;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench boot</c>: boot time and VMM overhead of <c>ssihv run</c> against QEMU on the same KVM
/// (BootBenchmark), booting the probe guest or, with --kernel, Linux to a line its init prints.
/// </summary>
static class BenchBoot
{
    /// An example shipped with ssihv (ProductAssets.ExampleTopology).
    public const string DefaultTopology = "two-node.json";
    /// The memory test takes longer than the boot itself; without it the benchmark measures the boot.
    public const string DefaultAppend = "memtest=off";
    /// The kernel's console on the serial port both VMMs relay to stdout; quiet, because printing the boot log at
    /// serial speed would time the console rather than the boot.
    public const string DefaultLinuxAppend = "console=ttyS0 quiet panic=-1";
    /// The first line the NUMA memtest guest's init prints (guests/linux-numa-memtest/init.sh).
    public const string DefaultReadyLine = "numa-memtest:";

    public static readonly string Help =
        "bench boot: boots the probe guest (guests/probe/README.md) N times with 'ssihv run' in a child process and N times with\n"
        + "qemu-system-x86_64 -accel kvm (pc machine, qboot firmware, PVH boot of the same ELF, same CPUs, memory,\n"
        + "NUMA nodes and command line), alternating. Prints, per run and as median and min, the time from process\n"
        + "start to the first PROBE line and to process exit, the ratios ours/QEMU, where our time goes, and our\n"
        + "start-to-first-guest-instruction time and memory overhead against Firecracker's bars (125 ms, 5 MiB).\n"
        + "With --kernel FILE [--initrd FILE], both boot that Linux kernel (QEMU with -cpu host) and are timed to the first\n"
        + $"line starting with --ready-line (default \"{DefaultReadyLine}\", printed by guests/linux-numa-memtest's init; append\n"
        + $"default \"{DefaultLinuxAppend}\"). The guest must power off.\n"
        + $"A run still going after {BootGuest.ProbeRunTimeout.TotalSeconds} s ({BootGuest.LinuxRunTimeout.TotalSeconds} s for Linux) is killed and fails the benchmark.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        if (arguments.Option(Budget.Name) is not null)
            throw CliException.BadInput("ssihv bench boot: --budget applies to 'bench fault' only");
        RejectOptions(arguments, "boot", [.. StartupOnly, Pin, Toucher]);
        var topologyPath = arguments.Option(TopologyOption.Name) ?? Asset("boot", () => ProductAssets.ExampleTopology(DefaultTopology));
        if (!TopologyFile.TryLoad(topologyPath, out var topology, out var problems))
            throw CliException.BadInput(problems);
        var runs = RunsOf(arguments, "boot");
        var guest = GuestOf(arguments);
        RequireKvm("boot");

        output.WriteLine($"ssihv bench boot: topology {topologyPath}, {Describe(guest)}, runs per VMM: {runs}, append \"{guest.Append}\"");
        BootResults results;
        try
        {
            results = BootBenchmark.Run(topology, topologyPath, guest, runs, output.WriteLine);
        }
        catch (BenchRunException e)
        {
            throw CliException.Failure([$"ssihv bench boot: {e.Message}", .. e.Details]);
        }
        foreach (var line in BootReport.Lines(results, guest))
            output.WriteLine(line);
        return ExitCodes.Success;
    }

    /// The probe unless --kernel names a Linux kernel; --initrd and --ready-line belong to a kernel.
    static BootGuest GuestOf(ParsedArguments arguments)
    {
        if (arguments.Option(Kernel.Name) is not { } kernel)
        {
            foreach (var option in new[] { Initrd, ReadyLine })
                if (arguments.Option(option.Name) is not null)
                    throw CliException.BadInput($"ssihv bench boot: --{option.Name} needs --kernel FILE");
            return new BootGuest.Probe(Asset("boot", () => ProductAssets.ProbeGuest), arguments.Option(Append.Name) ?? DefaultAppend);
        }
        // An empty --ready-line is refused by the argument parser, like every empty option value.
        var readyLine = arguments.Option(ReadyLine.Name) ?? DefaultReadyLine;
        return new BootGuest.Linux(
            Admitted(kernel, InputFile.InputKind.Kernel, Kernel),
            arguments.Option(Initrd.Name) is { } initrd ? Admitted(initrd, InputFile.InputKind.Initrd, Initrd) : null,
            readyLine,
            arguments.Option(Append.Name) ?? DefaultLinuxAppend);
    }

    /// The full path of a file `ssihv run` will accept as `kind`, checked here so that bad input is refused before
    /// any VMM starts (both VMMs get the same path).
    static string Admitted(string path, InputFile.InputKind kind, OptionSpec option) =>
        InputFiles.TryRead(path, kind, out _, out var problem)
            ? Path.GetFullPath(path)
            : throw CliException.BadInput($"ssihv bench boot: --{option.Name} {problem}");

    static string Describe(BootGuest guest) => guest switch
    {
        BootGuest.Linux linux => $"kernel {linux.Kernel}" + (linux.Initrd is { } initrd ? $", initrd {initrd}" : "") + $", timed to the line \"{linux.ReadyLine}\"",
        _ => "the probe guest",
    };
}
