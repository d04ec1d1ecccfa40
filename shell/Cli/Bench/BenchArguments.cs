using System.Globalization;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Bench;
using SsiHv.Shell.Vmm.Hypervisor.Kvm;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// The options every <c>ssihv bench</c> kind shares (one option list, because the command is one) and the checks
/// of them more than one kind runs; every message names the benchmark it is about.
/// </summary>
static class BenchArguments
{
    const int DefaultRuns = 5, MaxRuns = 1000;
    /// The fault guest's working set is 4× the budget and its timings must fit in 124 KiB below 1 MiB.
    const ulong DefaultBudgetBytes = 8UL * 1024 * 1024;

    public static readonly OptionSpec TopologyOption = TopologyInput.Option with
    {
        Required = false,
        Description = $"the topology file (JSON, docs/design.md §4.2; default: an example shipped with ssihv, examples/{BenchBoot.DefaultTopology} for bench boot, examples/{BenchFault.DefaultProbeTopology} for bench fault's probe run)",
    };
    public static readonly OptionSpec Runs = new("runs", "N", $"runs per VMM or pager (default {DefaultRuns})", Required: false);
    public static readonly OptionSpec Append = new("append", "STR",
        $"bench boot: the guest's command line (default \"{BenchBoot.DefaultAppend}\" for the probe, \"{BenchBoot.DefaultLinuxAppend}\" with --kernel)", Required: false);
    public static readonly OptionSpec Kernel = new("kernel", "FILE", "bench boot: boot this Linux kernel (vmlinux or bzImage) instead of the probe guest", Required: false);
    public static readonly OptionSpec Initrd = new("initrd", "FILE", "bench boot: an initial ramdisk for --kernel", Required: false);
    public static readonly OptionSpec ReadyLine = new("ready-line", "TEXT",
        $"bench boot with --kernel: time both VMMs to the first console line starting with TEXT (default \"{BenchBoot.DefaultReadyLine}\")", Required: false);
    public static readonly OptionSpec Budget = new("budget", "SIZE",
        $"bench fault and remote-fault: the pager's residency budget, e.g. 8M (default {DefaultBudgetBytes / (1024 * 1024)}M; the guest touches 4x as much)", Required: false);
    public static readonly OptionSpec Pin = new("pin", "VCPU,PAGER|none",
        "bench fault and remote-fault: the CPUs of the vCPU thread and of the pager thread, on both sides alike (default 0,1 on two CPUs or more; none: the scheduler places them)", Required: false);

    public static readonly OptionSpec Toucher = new("toucher", "thread|vcpu",
        "bench fault and remote-fault: what touches the pages on both sides: a host thread pinned where the vCPU would be, or the fault guest on a KVM vCPU (default: vcpu where KVM works, else thread)", Required: false);

    public static readonly OptionSpec Native = new("native", "FILE",
        $"bench startup: the native build's executable (default: this one if native, else ../../native/ssihv from this ssihv.dll's directory, where `{StartupBuilds.NativeBuildCommand}` puts it)", Required: false);
    public static readonly OptionSpec Jit = new("jit", "FILE.dll",
        $"bench startup: the JIT build's ssihv.dll, run with dotnet (default: this one if JIT, else ../Release/net10.0/ssihv.dll from the native executable's directory, where `{StartupBuilds.JitBuildCommand}` puts it)", Required: false);

    /// What only 'bench startup' takes: the two builds it compares.
    public static readonly OptionSpec[] StartupOnly = [Native, Jit];

    /// --toucher or its default (FaultToucherChoice) on this host, with the report's line naming it.
    public static (FaultToucher Toucher, string Line) ToucherOf(ParsedArguments arguments, string kind) =>
        FaultToucherChoice.Decide(arguments.Option(Toucher.Name), HostKvm.Unavailable(), File.Exists(FaultToucherChoice.KvmDevice)) switch
        {
            FaultToucherChoice.Chosen chosen => (chosen.Toucher, chosen.Line),
            FaultToucherChoice.NoKvm noKvm => throw NoKvm(kind, noKvm.Reason),
            FaultToucherChoice.Unknown unknown => throw CliException.BadInput($"ssihv bench {kind}: --toucher {unknown.Value}: expected thread or vcpu"),
            var other => throw new InvalidOperationException($"unhandled toucher choice {other}"),
        };

    /// What only 'bench boot' takes: the guest to boot and how it is timed.
    public static readonly OptionSpec[] BootOnly = [Append, Kernel, Initrd, ReadyLine];

    /// The benchmarks whose guest runs on this host's KVM say so in one line, once their arguments are checked.
    public static void RequireKvm(string benchmark)
    {
        if (HostKvm.Unavailable() is { } reason)
            throw NoKvm(benchmark, reason);
    }

    static CliException NoKvm(string benchmark, string reason) => CliException.Failure(
        $"ssihv bench {benchmark}: {reason}: this host has no usable KVM ({FaultToucherChoice.KvmDevice}); run it in a lab machine: ssihv lab exec -- ssihv bench {benchmark} ... (docs/lab.md)");

    /// A file of this installation, or what needs one; without it the installation is broken, which is a failure,
    /// not bad input.
    public static T Asset<T>(string kind, Func<T> find)
    {
        try
        {
            return find();
        }
        catch (MissingAssetException e)
        {
            throw CliException.Failure($"ssihv bench {kind}: {e.Message}");
        }
    }

    /// Prepares a C reference shipped with ssihv (and its temporary results directory, removed afterwards) and
    /// measures against it; a missing asset or a failed run is a failure (exit 1) naming the benchmark.
    public static void AgainstReference<TReference>(string kind, Func<TReference> prepare, Action<TReference> measure)
        where TReference : IDisposable
    {
        try
        {
            using var reference = Asset(kind, prepare);
            measure(reference);
        }
        catch (BenchRunException e)
        {
            throw CliException.Failure([$"ssihv bench {kind}: {e.Message}", .. e.Details]);
        }
    }

    public static void RejectOptions(ParsedArguments arguments, string kind, params OptionSpec[] options)
    {
        foreach (var option in options)
            if (arguments.Option(option.Name) is not null)
                throw CliException.BadInput($"ssihv bench {kind}: --{option.Name} does not apply to 'bench {kind}'");
    }

    /// --pin or the default placement of the vCPU and pager threads.
    public static FaultThreadPlacement PlacementOf(ParsedArguments arguments, string kind) =>
        arguments.Option(Pin.Name) is not { } pin ? FaultThreadPlacement.Default
        : FaultThreadPlacement.TryParse(pin, out var placement, out var error) ? placement
        : throw CliException.BadInput($"ssihv bench {kind}: {error}");

    /// The fault guest's budget (bytes, pages): --budget or the default, checked against what the guest can time.
    public static (ulong Bytes, ulong Pages) BudgetOf(ParsedArguments arguments, string kind)
    {
        var budgetBytes = DefaultBudgetBytes;
        if (arguments.Option(Budget.Name) is { } text)
        {
            var parsed = Core.Units.ByteSize.parse(text);
            budgetBytes = parsed.IsOk ? parsed.ResultValue : throw CliException.BadInput($"ssihv bench {kind}: --budget: {parsed.ErrorValue}");
        }
        const int maxBudgetPages = FaultGuestLayout.MaxTouches / FaultBenchmark.Passes / FaultBenchmark.WorkingSetPerBudget;
        var budgetPages = budgetBytes / FaultGuestLayout.PageSize;
        if (budgetBytes % FaultGuestLayout.PageSize != 0 || budgetPages is < 1 or > maxBudgetPages)
            throw CliException.BadInput(FormattableString.Invariant(
                $"ssihv bench {kind}: --budget {arguments.Option(Budget.Name)}: expected a multiple of 4 KiB from 4 KiB to {maxBudgetPages * 4} KiB (the guest's timings for 4x that many pages, two passes, must fit below 1 MiB)"));
        return (budgetBytes, budgetPages);
    }

    public static int RunsOf(ParsedArguments arguments, string kind)
    {
        var text = arguments.Option(Runs.Name);
        if (text is null)
            return DefaultRuns;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var runs) && runs is >= 1 and <= MaxRuns
            ? runs
            : throw CliException.BadInput($"ssihv bench {kind}: --runs {text}: expected a whole number from 1 to {MaxRuns}");
    }
}
