using System.Globalization;
using System.Text;
using SsiHv.Core.Cluster;
using SsiHv.Core.Vm;
using SsiHv.Shell.Up;
using SsiHv.Shell.Topology;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv up</c>: a whole cluster on this machine (docs/node-host.md): one node host process per topology node,
/// on loopback or in network namespaces, the guest booted on it and run to its end, then a page summary.
/// Exit 0 when the guest powered off, 1 when a node host or the guest failed, 2 for bad input.
/// </summary>
public sealed class UpCommand : ICommand
{
    static readonly OptionSpec Topology = new("topology", "FILE",
        "the topology file (JSON, docs/design.md §4.2); each node's `address` gives its transport port, the control API listens on port + 1000 (default: a built-in two-node cluster shaped like examples/two-node.json: 2 CPUs + 256 MiB, 512 MiB memory-only)",
        Required: false);
    static readonly OptionSpec Netns = OptionSpec.Flag("netns",
        "run each node host in its own network namespace (10.213.0.N on a bridge at 10.213.0.254) instead of on 127.0.0.1; removed at the end");
    static readonly OptionSpec Lab = OptionSpec.Flag("lab",
        "run each node host in its own lab machine (real KVM one level down, docs/lab.md) on tap devices of one bridge, 10.213.0.N as with --netns, soft RoCE between machines; for hosts without /dev/kvm (default topology then: 2 CPUs + 64 MiB, 64 MiB memory-only; with --kernel 128 MiB each)");
    static readonly OptionSpec Guest = new("guest", "NAME", "the built-in guest: 'probe' (guests/probe/README.md; the default when no --kernel)", Required: false);
    static readonly OptionSpec Kernel = new("kernel", "FILE", "a Linux bzImage, or an ELF kernel with a PVH note", Required: false);
    static readonly OptionSpec Initrd = new("initrd", "FILE", "an initial ramdisk for --kernel", Required: false);
    static readonly OptionSpec Append = new("append", "STR", "the guest's command line", Required: false);
    static readonly OptionSpec MemoryBudget = new("memory-budget", "SIZE",
        "guest RAM kept resident on the boot node, whole MiB (e.g. 256M); the rest is paged to the nodes that home it (default: half the boot node's memory)",
        Required: false);
    static readonly OptionSpec TimeoutScale = new("timeout-scale", "N",
        "multiply the node hosts' timeouts (transport, start-up, join) by N, 1..100 (default 10 with --lab, else 1): for slow or emulated machines (docs/node-host.md)",
        Required: false);
    static readonly OptionSpec Timeout = new("timeout", "SECONDS", "fail when the guest has not stopped after this long (default 300)", Required: false);
    static readonly OptionSpec StartTimeout = new("start-timeout", "SECONDS",
        "fail when a node host does not answer, or the cluster does not form, within this long (default 60)", Required: false);
    const double DefaultTimeoutSeconds = 300;
    const double DefaultStartTimeoutSeconds = 60;
    /// A lab machine boots in seconds but runs .NET and the guest at TCG speed: a node host takes about a minute
    /// to answer, the probe's memtest of 128 MiB a few minutes (docs/lab.md).
    const double LabTimeoutSeconds = 1200;
    const double LabStartTimeoutSeconds = 300;

    public CommandSyntax Syntax { get; } = new(
        "up",
        "run a whole cluster on this machine: node hosts, the guest, a page summary",
        "Starts one `ssihv node` process per topology node (the boot node runs the vCPUs, the others home guest\n"
        + "memory), waits until each answers and the cluster is formed, boots the guest on it, relays the guest\n"
        + "console to stdout and the node hosts' logs to stderr ([node N] ...), and when the guest has stopped\n"
        + "prints pages per node, remote fault latency and bytes moved per peer. Then it stops every node host.\n"
        + "Exit 0 when the guest powered off, 1 when the guest or a node host failed (named), 2 for bad input.",
        [],
        [Topology, Netns, Lab, Guest, Kernel, Initrd, Append, MemoryBudget, TimeoutScale, Timeout, StartTimeout]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var lab = arguments.Flag(Lab.Name);
        if (lab && arguments.Flag(Netns.Name))
            throw CliException.BadInput("ssihv up: give --netns or --lab, not both");
        var (name, bytes) = TopologySource(arguments, lab);
        if (!TopologyFile.TryParse(name, bytes, out var topology, out var problems))
            throw CliException.BadInput(problems);
        var timeout = arguments.Seconds(Syntax.Command, Timeout, lab ? LabTimeoutSeconds : DefaultTimeoutSeconds);
        var options = new LocalClusterOptions(
            topology, name, bytes,
            lab ? ClusterPlan.Addressing.LabMachines
                : arguments.Flag(Netns.Name) ? ClusterPlan.Addressing.NetworkNamespaces : ClusterPlan.Addressing.Loopback,
            new VmRequest(GuestOf(arguments), timeout),
            MemoryBudgetOf(arguments),
            arguments.Option(TimeoutScale.Name) is { } scale
                ? int.TryParse(scale, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw CliException.BadInput($"ssihv up: --timeout-scale {scale}: expected a whole number from 1 to 100")
                : null,
            arguments.Seconds(Syntax.Command, StartTimeout, lab ? LabStartTimeoutSeconds : DefaultStartTimeoutSeconds));

        LocalClusterResult result;
        using (var console = System.Console.OpenStandardOutput())
        {
            try
            {
                result = LocalCluster.Run(options, LocalCluster.SsihvNode, System.Console.Error, console);
            }
            catch (ClusterInputException e)
            {
                throw CliException.BadInput(e.Lines);
            }
            catch (ClusterRunException e)
            {
                throw CliException.Failure(e.Lines);
            }
        }
        foreach (var line in ClusterSummary.Lines(result.Vm, result.Pages))
            output.WriteLine($"ssihv up: {line}");
        return result.Vm.ExitCode == 0
            ? ExitCodes.Success
            : throw CliException.Failure($"ssihv up: {ClusterSummary.GuestEnd(result.Vm)}");
    }

    static (string Name, byte[] Bytes) TopologySource(ParsedArguments arguments, bool lab)
    {
        if (arguments.Option(Topology.Name) is not { } path)
            return (lab, arguments.Option(Kernel.Name) is not null) switch
            {
                (true, true) => (DefaultTopology.LabLinuxName, Encoding.UTF8.GetBytes(DefaultTopology.LabLinuxJson)),
                (true, false) => (DefaultTopology.LabName, Encoding.UTF8.GetBytes(DefaultTopology.LabJson)),
                _ => (DefaultTopology.Name, Encoding.UTF8.GetBytes(DefaultTopology.Json)),
            };
        try
        {
            return (path, File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw CliException.BadInput($"{path}: cannot read: {e.Message}");
        }
    }

    /// The guest to ask the boot node for. Paths are made absolute and checked here, because the node host resolves
    /// them from its own working directory and a missing file is the user's input error, not a cluster failure.
    static Guest GuestOf(ParsedArguments arguments)
    {
        var parsed = GuestModule.parse(UnnamedGuest.MeansProbe, new GuestFields(
            Option(arguments.Option(Guest.Name)), Option(arguments.Option(Kernel.Name)),
            Option(arguments.Option(Initrd.Name)), Option(arguments.Option(Append.Name))));
        if (parsed.IsError)
            throw CliException.BadInput($"ssihv up: {GuestErrorModule.text(GuestInput.CommandLine, parsed.ErrorValue)}");
        var guest = parsed.ResultValue;
        return guest.Image is GuestImage.Kernel kernel
            ? new Guest(GuestImage.NewKernel(ExistingFile(kernel.path, "--kernel"),
                Option(kernel.initrd?.Value is { } initrd ? ExistingFile(initrd, "--initrd") : null)), guest.Append)
            : guest;
    }

    static string ExistingFile(string path, string option) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw CliException.BadInput($"ssihv up: {option} {path}: no such file");

    static long? MemoryBudgetOf(ParsedArguments arguments)
    {
        if (arguments.Option(MemoryBudget.Name) is not { } text)
            return null;
        var parsed = Core.Units.ByteSize.parse(text);
        if (parsed.IsError)
            throw CliException.BadInput($"ssihv up: --memory-budget: {parsed.ErrorValue}");
        const ulong MiB = 1 << 20;
        return parsed.ResultValue % MiB == 0
            ? (long)(parsed.ResultValue / MiB)
            : throw CliException.BadInput($"ssihv up: --memory-budget {text}: expected a whole number of MiB (e.g. 256M)");
    }
}
