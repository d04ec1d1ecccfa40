using System.Globalization;
using SsiHv.Core.Input;
using SsiHv.Core.Vm;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Input;
using SsiHv.Shell.Vmm;
using SsiHv.Shell.Vmm.Boot;
using SsiHv.Shell.Vmm.Devices;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv run</c>: boots one guest on this host's KVM with the topology's ACPI tables and runs it to its end.
/// Exit 0 when the guest powers off (or resets, without --reboot), 1 when it fails or times out, 2 for bad input.
/// </summary>
public sealed class RunCommand : ICommand
{
    static readonly OptionSpec Kernel = new("kernel", "FILE", "a Linux bzImage, or an ELF kernel with a PVH note", Required: false);
    static readonly OptionSpec Guest = new("guest", "NAME", "a built-in guest instead of --kernel: 'probe' (guests/probe/README.md)", Required: false);
    static readonly OptionSpec Initrd = new("initrd", "FILE", "an initial ramdisk for --kernel", Required: false);
    static readonly OptionSpec Append = new("append", "STR", "the guest's command line", Required: false);
    static readonly OptionSpec Timeout = new("timeout", "SECONDS", "stop the guest and fail after this long (default 300)", Required: false);
    static readonly OptionSpec Console = new("console", "FILE", "write the guest's serial console to FILE instead of stdout", Required: false);
    static readonly OptionSpec Reboot = OptionSpec.Flag("reboot", "when the guest resets, boot it again instead of exiting");
    static readonly OptionSpec MemoryBudget = new("memory-budget", "SIZE",
        "keep at most SIZE (e.g. 256M) of guest RAM resident: the userfaultfd pager demand-faults the rest and writes evicted pages back (docs/pager.md)",
        Required: false);
    static readonly OptionSpec ReadAhead = new("read-ahead", "PAGES",
        "with --memory-budget, map the rest of a faulting page's aligned block of PAGES pages too (docs/pager.md, \"Read-ahead\"; default 0: off)",
        Required: false);
    const double DefaultTimeoutSeconds = 300;

    public CommandSyntax Syntax { get; } = new(
        "run",
        "boot a guest on this host's KVM with the topology's ACPI tables",
        "Creates a KVM VM laid out as the topology says (docs/design.md §4.3), places the ACPI tables, loads the\n"
        + "kernel (bzImage through the Linux boot protocol, ELF through PVH) or the probe guest, starts one\n"
        + "thread per vCPU and runs until the guest powers off. COM1 is the console.",
        [],
        [TopologyInput.Option, Kernel, Guest, Initrd, Append, Timeout, Console, Reboot, MemoryBudget, ReadAhead]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var topology = TopologyInput.Load(arguments);
        var guest = GuestOf(arguments);
        var kernelFile = guest.Image as GuestImage.Kernel;
        var (kernelPath, kernel) = kernelFile is null ? ProbeImage() : (kernelFile.path, ReadInput(kernelFile.path, InputFile.InputKind.Kernel, "--kernel"));
        var initrd = kernelFile?.initrd?.Value is { } initrdPath ? ReadInput(initrdPath, InputFile.InputKind.Initrd, "--initrd") : null;
        var timeout = arguments.Seconds(Syntax.Command, Timeout, DefaultTimeoutSeconds);
        var config = new VmConfig(topology, kernelPath, kernel, initrd, guest.Append, MemoryBudgetOf(arguments), ReadAheadPages: ReadAheadOf(arguments));

        using var consoleStream = arguments.Option(Console.Name) is { } path ? OpenConsoleFile(path) : System.Console.OpenStandardOutput();
        var keyboard = System.Console.IsInputRedirected ? null : new ConsoleInput();
        while (true)
        {
            VmStop stop;
            try
            {
                using var vm = VirtualMachine.Create(config);
                keyboard?.ConnectTo(vm.Serial);
                stop = vm.RunAsync(consoleStream, timeout).GetAwaiter().GetResult();
                keyboard?.ConnectTo(null);
                if (vm.Pager is { } pager)
                    output.WriteLine($"ssihv run: pager: {pager.Metrics.Summary()}");
            }
            catch (BootInputException e)
            {
                throw CliException.BadInput($"ssihv run: {e.Message}");
            }
            catch (VmFailureException e)
            {
                throw CliException.Failure($"ssihv run: {e.Message}");
            }
            var runEnd = StandaloneRun.decide(arguments.Flag(Reboot.Name), stop.Outcome());
            if (runEnd is StandaloneRun.RunEnd.BootAgain again)
            {
                output.WriteLine($"ssihv run: {again.notice}");
                continue;
            }
            var exit = (StandaloneRun.RunEnd.Exit)runEnd;
            if (exit.exitCode != ExitCode.Success)
                throw CliException.Failure([$"ssihv run: {exit.lines.Head}", .. exit.lines.Tail]);
            foreach (var line in exit.lines)
                output.WriteLine($"ssihv run: {line}");
            return ExitCodes.Success;
        }
    }

    static Guest GuestOf(ParsedArguments arguments)
    {
        var guest = GuestModule.parse(UnnamedGuest.IsMissing, new GuestFields(
            Option(arguments.Option(Guest.Name)), Option(arguments.Option(Kernel.Name)),
            Option(arguments.Option(Initrd.Name)), Option(arguments.Option(Append.Name))));
        return guest.IsOk
            ? guest.ResultValue
            : throw CliException.BadInput($"ssihv run: {GuestErrorModule.text(GuestInput.CommandLine, guest.ErrorValue)}");
    }

    static (string Path, byte[] Bytes) ProbeImage()
    {
        string path;
        try
        {
            path = ProductAssets.ProbeGuest;
        }
        catch (MissingAssetException e)
        {
            throw CliException.Failure($"ssihv run: {e.Message}");
        }
        return (path, ReadInput(path, InputFile.InputKind.Kernel, "--guest probe"));
    }

    static byte[] ReadInput(string path, InputFile.InputKind kind, string option)
    {
        try
        {
            return InputFiles.Read(path, kind);
        }
        catch (InputFileException e)
        {
            throw CliException.BadInput($"ssihv run: {option} {e.Message}");
        }
    }

    static ulong? MemoryBudgetOf(ParsedArguments arguments)
    {
        if (arguments.Option(MemoryBudget.Name) is not { } text)
            return null;
        var parsed = Core.Units.ByteSize.parse(text);
        return parsed.IsOk ? parsed.ResultValue : throw CliException.BadInput($"ssihv run: --memory-budget: {parsed.ErrorValue}");
    }

    static int ReadAheadOf(ParsedArguments arguments)
    {
        if (arguments.Option(ReadAhead.Name) is not { } text)
            return Core.Paging.Pager.PagerConfigModule.DefaultReadAheadPages;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pages))
            throw CliException.BadInput($"ssihv run: --read-ahead {text}: expected a whole number of pages");
        return Core.Paging.Pager.PagerConfigModule.readAheadProblem(pages) is { } problem
            ? throw CliException.BadInput($"ssihv run: --read-ahead: {problem.Value}")
            : pages;
    }

    /// Bytes typed at an interactive terminal go to the guest's COM1 (the VM of the moment, across --reboot).
    sealed class ConsoleInput
    {
        volatile SerialPort? target;

        public ConsoleInput()
        {
            var reader = new Thread(Forward) { Name = "console input", IsBackground = true };
            reader.Start();
        }

        public void ConnectTo(SerialPort? serial) => target = serial;

        void Forward()
        {
            using var input = System.Console.OpenStandardInput();
            int value;
            while ((value = input.ReadByte()) >= 0)
                target?.Receive((byte)value);
        }
    }

    static Stream OpenConsoleFile(string path)
    {
        try
        {
            return File.Create(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw CliException.BadInput($"ssihv run: --console {path}: cannot create: {e.Message}");
        }
    }
}
