using SsiHv.Shell.Bench;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench KIND</c>: picks the benchmark (one file each: BenchBoot, BenchFault, BenchRemoteFault,
/// BenchTransport, BenchAcpi, BenchStartup) and holds the syntax they share. Each runs its reference in the same invocation (acpi has a time goal instead; startup compares the native build with the JIT one). Exit 0 when
/// every run completed (whatever the numbers), 1 when a run failed, 2 for bad input.
/// </summary>
public sealed class BenchCommand : ICommand
{
    static readonly PositionalSpec Kind = new("KIND", "boot | fault | remote-fault | transport | acpi | startup");

    /// One command for every benchmark kind, because the command list (CliRunner) names one bench command.
    public CommandSyntax Syntax { get; } = new(
        "bench",
        "benchmarks against a reference run in the same invocation (boot: QEMU; fault, remote-fault: a C userfaultfd pager; transport: a C TCP client/server; acpi: a time goal; startup: the JIT build against the native one)",
        BenchBoot.Help + "\n"
        + BenchFault.Help + "\n"
        + BenchRemoteFault.Help + "\n"
        + BenchTransport.Help + "\n"
        + BenchAcpi.Help + "\n"
        + BenchStartup.Help
        + "--append, --kernel, --initrd and --ready-line apply to 'bench boot' only; --budget to fault and remote-fault; --topology to boot and fault; --pin and --toucher to fault and remote-fault; --native and --jit to startup.",
        [Kind],
        [BenchArguments.TopologyOption, BenchArguments.Runs, BenchArguments.Append, BenchArguments.Kernel, BenchArguments.Initrd,
         BenchArguments.ReadyLine, BenchArguments.Budget, BenchArguments.Pin, BenchArguments.Toucher,
         BenchArguments.Native, BenchArguments.Jit]);

    public int Run(ParsedArguments arguments, TextWriter output) =>
        arguments.Required(Kind.Name) switch
        {
            "boot" => BenchBoot.Run(arguments, output),
            "fault" => BenchFault.Run(arguments, output),
            "remote-fault" => BenchRemoteFault.Run(arguments, output),
            // Internal: the remote home process that 'bench remote-fault' starts (RemoteFaultHome).
            "remote-fault-home" => RemoteFaultHome.Serve(Console.In, output),
            "transport" => BenchTransport.Run(arguments, output),
            "acpi" => BenchAcpi.Run(arguments, output),
            "startup" => BenchStartup.Run(arguments, output),
            var other => throw CliException.BadInput($"ssihv bench: unknown benchmark '{other}'; expected boot, fault, remote-fault, transport, acpi or startup"),
        };
}
