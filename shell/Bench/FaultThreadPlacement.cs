using System.Globalization;

namespace SsiHv.Shell.Bench;

/// <summary>
/// Where <c>ssihv bench fault</c> runs the two threads a fault goes between, on both sides alike: the vCPU thread
/// and the thread that serves its faults (our pager thread; the C reference's handler thread, told through
/// BENCH_VCPU_CPU and BENCH_HANDLER_CPU). Left to the scheduler, our process (which has more threads: JIT, GC,
/// the runtime's own) gets the pair placed differently from one invocation to the next: our median first touch
/// ranged over 23–34 µs between invocations while the C reference's stayed at 22 µs (docs/performance.md). Pinned,
/// both sides are measured with the same placement every time.
/// </summary>
public sealed record FaultThreadPlacement(int? VcpuCpu, int? PagerCpu)
{
    /// Where <c>bench remote-fault</c> runs the remote home process (ours, and the C reference's page server): on
    /// the vCPU's CPU, which idles while the vCPU waits for its fault. On a cluster the home is another machine and
    /// never competes with the pager for a CPU; left to the scheduler on two CPUs, it is woken onto the pager's.
    public int? HomeCpu => PagerCpu is null ? null : VcpuCpu;

    public static readonly FaultThreadPlacement Unpinned = new(null, null);

    /// vCPU on CPU 0 and the pager on CPU 1 where there are two CPUs or more; else unpinned.
    public static FaultThreadPlacement Default => Environment.ProcessorCount >= 2 ? new(0, 1) : Unpinned;

    /// "none", or "VCPU,PAGER" with two different CPUs of this machine.
    public static bool TryParse(string text, out FaultThreadPlacement placement, out string error)
    {
        placement = Unpinned;
        error = "";
        if (text == "none")
            return true;
        var parts = text.Split(',');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var vcpu)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pager)
            && vcpu != pager && vcpu < Environment.ProcessorCount && pager < Environment.ProcessorCount)
        {
            placement = new FaultThreadPlacement(vcpu, pager);
            return true;
        }
        error = $"--pin: expected none or VCPU,PAGER (two different CPUs below {Environment.ProcessorCount}), found \"{text}\"";
        return false;
    }

    /// The C reference's environment for this placement.
    public IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        VcpuCpu is { } vcpu && PagerCpu is { } pager
            ? new Dictionary<string, string>
            {
                ["BENCH_VCPU_CPU"] = vcpu.ToString(CultureInfo.InvariantCulture),
                ["BENCH_HANDLER_CPU"] = pager.ToString(CultureInfo.InvariantCulture),
                ["BENCH_SERVER_CPU"] = vcpu.ToString(CultureInfo.InvariantCulture),
            }
            : new Dictionary<string, string>();

    public string Describe() =>
        VcpuCpu is { } vcpu && PagerCpu is { } pager
            ? $"threads pinned alike on both sides: vCPU on CPU {vcpu}, pager (C: handler) on CPU {pager}"
            : "threads not pinned (placed by the scheduler)";
}
