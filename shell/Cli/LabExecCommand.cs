using System.Collections;
using System.Runtime.InteropServices;
using LabMachineSpec = SsiHv.Core.Lab.LabMachine;
using SsiHv.Shell.Lab;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv lab exec</c>: boots one lab machine (real KVM one level down, docs/lab.md), runs a command inside it
/// with this working directory and environment, streams its stdout and stderr, and exits with its exit code
/// (1 when the lab itself failed, with the reason; 2 for bad arguments).
/// </summary>
public sealed class LabExecCommand : ICommand
{
    static readonly OptionSpec Cpus = new("cpus", "N", $"the machine's CPUs (default {LabMachineOptions.Default.Cpus})", Required: false);
    static readonly OptionSpec Memory = new("memory", "SIZE", $"the machine's memory, e.g. 4G (default {LabMachineOptions.Default.MemoryMiB / 1024}G)", Required: false);
    static readonly OptionSpec Timeout = new("timeout", "SECONDS",
        $"stop the machine and fail when the command runs longer (default {LabMachineOptions.Default.CommandTimeout.TotalSeconds})", Required: false);
    static readonly OptionSpec BootTimeout = new("boot-timeout", "SECONDS",
        $"fail when the machine is not ready to run the command within this long (default {LabMachineOptions.Default.BootTimeout.TotalSeconds})", Required: false);
    static readonly OptionSpec Writable = new("writable", "DIR[:DIR...]",
        "host directories the command may write to, shared at the same path (the rest of / is read-only with a throw-away overlay)", Required: false);
    static readonly OptionSpec Rdma = OptionSpec.Flag("rdma",
        "a soft-RoCE device (rdma_rxe) on the machine's NIC: a real RDMA device for the command (without --tap, on a NIC that leads nowhere: QEMU's user network with restrict=on)");
    static readonly OptionSpec Tap = new("tap", "NAME",
        "connect the machine's NIC to this existing host tap device (ssihv up --lab puts them on one bridge); needs --address", Required: false);
    static readonly OptionSpec Address = new("address", "A.B.C.D/P", "the NIC's address inside, with --tap", Required: false);
    static readonly OptionSpec Threads = new("tcg-threads", "single|multi",
        "how TCG runs the machine's CPUs: one host thread for all (single, the default: stable) or one each (multi)", Required: false);

    public CommandSyntax Syntax { get; } = new(
        "lab exec",
        "run a command in a lab machine: real KVM on a host without /dev/kvm",
        "Boots a lab machine (QEMU TCG with emulated AMD-V, Debian's kernel with kvm-amd, the host's / shared\n"
        + "read-only with a writable overlay), runs COMMAND in it in this directory with this environment, streams\n"
        + "its stdout and stderr and exits with its exit code. The lab image is built on first use (ssihv lab prepare).",
        [],
        [Cpus, Memory, Timeout, BootTimeout, Writable, Rdma, Tap, Address, Threads],
        new PositionalSpec("COMMAND [ARGS...]", "the command to run inside, e.g. shell/bin/native/ssihv run --guest probe"));

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var defaults = LabMachineOptions.Default;
        var options = defaults with
        {
            Cpus = arguments.Option(Cpus.Name) is { } cpus ? Whole(cpus, Cpus, LabMachineSpec.minCpus, LabMachineSpec.maxCpus) : defaults.Cpus,
            MemoryMiB = arguments.Option(Memory.Name) is { } memory ? MemoryMiBOf(memory) : defaults.MemoryMiB,
            CommandTimeout = arguments.Seconds(Syntax.Command, Timeout, defaults.CommandTimeout.TotalSeconds),
            BootTimeout = arguments.Seconds(Syntax.Command, BootTimeout, defaults.BootTimeout.TotalSeconds),
            WritableShares = arguments.Option(Writable.Name) is { } writable ? WritableDirectories(writable) : [],
            Nic = NicOf(arguments),
            Threading = arguments.Option(Threads.Name) switch
            {
                null or "single" => LabMachineSpec.TcgThreading.Single,
                "multi" => LabMachineSpec.TcgThreading.Multi,
                var other => throw CliException.BadInput($"ssihv lab exec: --tcg-threads {other}: expected 'single' or 'multi'"),
            },
        };

        using var cancel = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            cancel.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var progress = Console.Error;
        try
        {
            var image = LabImage.Prepare(LabImage.DefaultDirectory(), progress);
            using var stdout = Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            return LabMachine.Run(image, options, System.Environment.CurrentDirectory, HostEnvironment(), arguments.Rest, stdout, stderr, progress, cancel.Token);
        }
        catch (LabException e)
        {
            throw CliException.Failure($"ssihv lab exec: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            throw CliException.Failure("ssihv lab exec: interrupted; the lab machine was stopped and removed");
        }
    }

    static LabMachineSpec.Nic? NicOf(ParsedArguments arguments)
    {
        var rdma = arguments.Flag(Rdma.Name);
        switch (arguments.Option(Tap.Name), arguments.Option(Address.Name))
        {
            case (null, null):
                return rdma ? LabMachineSpec.isolatedRdmaNic : null;
            case ({ } tap, { } address):
                var nic = LabMachineSpec.tapNic(tap, address, rdma);
                return nic.IsOk ? nic.ResultValue : throw CliException.BadInput($"ssihv lab exec: --address: {nic.ErrorValue}");
            default:
                throw CliException.BadInput("ssihv lab exec: --tap NAME and --address A.B.C.D/P go together");
        }
    }

    static IEnumerable<KeyValuePair<string, string>> HostEnvironment() =>
        System.Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Select(e => KeyValuePair.Create((string)e.Key, (string?)e.Value ?? ""));

    static int Whole(string text, OptionSpec option, int min, int max) =>
        int.TryParse(text, out var value) && value >= min && value <= max
            ? value
            : throw CliException.BadInput($"ssihv lab exec: --{option.Name} {text}: expected a whole number from {min} to {max}");

    static int MemoryMiBOf(string text)
    {
        var parsed = Core.Units.ByteSize.parse(text);
        const ulong MiB = 1 << 20;
        if (parsed.IsError)
            throw CliException.BadInput($"ssihv lab exec: --memory: {parsed.ErrorValue}");
        var mib = parsed.ResultValue / MiB;
        return parsed.ResultValue % MiB == 0 && mib >= (ulong)LabMachineSpec.minMemoryMiB && mib <= (ulong)LabMachineSpec.maxMemoryMiB
            ? (int)mib
            : throw CliException.BadInput($"ssihv lab exec: --memory {text}: expected whole MiB from {LabMachineSpec.minMemoryMiB}M to {LabMachineSpec.maxMemoryMiB / 1024}G");
    }

    static IReadOnlyList<string> WritableDirectories(string text) =>
        text.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Directory.Exists(d) ? Path.GetFullPath(d) : throw CliException.BadInput($"ssihv lab exec: --writable {d}: no such directory"))
            .ToList();
}
