using System.Diagnostics;
using SsiHv.Interop.Memory;
using SsiHv.Shell.Vmm.Memory;
using static SsiHv.Shell.Bench.FaultGuestLayout;

namespace SsiHv.Shell.Bench;

/// <summary>
/// fault_guest.S's loop on a host thread (the C reference's touch_from_thread): pass after pass, the first write to
/// each page of the paged region in order, timed with CLOCK_MONOTONIC (Stopwatch) in ns, then the pass counter added
/// to the page's word 1. Every access goes through <see cref="NativeCopy"/>: a fault stalls the thread in
/// preemptive mode, so a garbage collection does not wait for it while the pager thread is suspended.
/// </summary>
public sealed class ThreadPageToucher(GuestMemory memory, int pages, int passes) : IPageToucher
{
    readonly nint data = memory.Regions.Single(region => region.GuestAddress == DataBase).Mapping.Address;
    readonly uint[] timings = new uint[pages * passes];

    public string? Touch(List<long> marks, int? cpu)
    {
        if (cpu is { } pinned)
            Interop.Linux.CpuAffinity.PinCurrentThread(pinned);
        Span<byte> word = stackalloc byte[4];
        var touch = 0;
        for (var pass = passes; pass > 0; pass--)
        {
            marks.Add(Stopwatch.GetTimestamp());
            for (var page = 0; page < pages; page++)
            {
                var address = data + page * (nint)PageSize;
                var before = Stopwatch.GetTimestamp();
                BitConverter.TryWriteBytes(word, (uint)before);
                NativeCopy.ToMemory(address, word); // the first access to the page in this pass: a write fault
                timings[touch++] = (uint)Stopwatch.GetElapsedTime(before).TotalNanoseconds;
                NativeCopy.FromMemory(word, address + 4);
                BitConverter.TryWriteBytes(word, BitConverter.ToUInt32(word) + (uint)pass);
                NativeCopy.ToMemory(address + 4, word);
            }
        }
        marks.Add(Stopwatch.GetTimestamp());
        return null;
    }

    public uint[] Timings(GuestMemory memory) => timings;

    public void Dispose() { }
}
