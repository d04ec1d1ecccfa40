using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Bench;

/// <summary>
/// What touches the paged region in <c>ssihv bench fault</c> and <c>remote-fault</c>, on both sides alike: the fault
/// guest on a KVM vCPU (<see cref="Vcpu"/>), or a host thread running the guest's loop over the same
/// userfaultfd-registered memory (<see cref="Thread"/>, the C reference's BENCH_TOUCHER=thread), which measures the
/// pager and the transport on a host without /dev/kvm.
/// </summary>
public enum FaultToucher
{
    Thread,
    Vcpu,
}

/// <summary>One run's toucher: it touches every page, pass after pass, as fault_guest.S does.</summary>
public interface IPageToucher : IDisposable
{
    /// Touches on the calling thread (pinned to `cpu` when given), stamping `marks` before each pass and after the
    /// last (Stopwatch timestamps); returns why it failed, or null.
    string? Touch(List<long> marks, int? cpu);

    /// Each touch's time, pass after pass, in <see cref="FaultToucherUnits"/> ticks of this toucher.
    uint[] Timings(GuestMemory memory);
}

/// <summary>The toucher of each kind, and the units of its per-touch timings.</summary>
public static class FaultToucherUnits
{
    /// The thread toucher times each touch in nanoseconds (CLOCK_MONOTONIC on both sides): 1000 ticks per µs.
    public const double ThreadTicksPerMicrosecond = 1000;

    /// Sets `memory` up for `toucher` (for the vCPU: a VM with the guest's code and parameters loaded).
    public static IPageToucher Create(FaultToucher toucher, GuestMemory memory, byte[] guestCode, int pages, int passes) =>
        toucher == FaultToucher.Vcpu
            ? VcpuPageToucher.Create(memory, guestCode, pages, passes)
            : new ThreadPageToucher(memory, pages, passes);
}
