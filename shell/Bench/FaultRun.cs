namespace SsiHv.Shell.Bench;

/// <summary>
/// The guest of <c>bench/reference/fault_guest.S</c> and its layout, shared by both pagers of <c>ssihv bench fault</c>:
/// the same code bytes at the same guest-physical addresses, so the runs differ only in who serves the faults.
/// </summary>
public static class FaultGuestLayout
{
    public const ulong PageSize = 4096;
    /// Code, parameters and results: never paged (our GuestMemory's BIOS area; the C reference's slot 0).
    public const ulong LowBase = 0xE0000, LowEnd = 0x100000;
    public const ulong ParametersAddress = 0xE0F00;
    public const ulong ResultsAddress = 0xE1000;
    /// The paged region: every page of it is first-touched, evicted and re-faulted.
    public const ulong DataBase = 0x100000;
    public const ushort PassPort = 0x10;
    /// How many u32 touch timings fit between the results address and the end of the low area.
    public const int MaxTouches = (int)((LowEnd - ResultsAddress) / 4);
}

/// <summary>
/// One run of the fault guest under one pager. <see cref="TouchCycles"/> holds, pass after pass, the guest's rdtsc
/// cycles around its first write to each page (pass 0: first touch; later passes: re-faults of evicted pages).
/// <see cref="HandleP50Microseconds"/>/<see cref="HandleP99Microseconds"/> are the pager's own fault-read-to-resolved
/// latency: exact for the C reference, the upper bound of a power-of-two bucket for ours (PagerMetrics).
/// </summary>
public sealed record FaultRun(
    uint[] TouchCycles, double[] PassMicroseconds, long Faults, long ZeroFills, long Fetches, long Evictions, long WrongPages,
    double HandleP50Microseconds, double HandleP99Microseconds)
{
    public int Pages => TouchCycles.Length / PassMicroseconds.Length;

    public ArraySegment<uint> Pass(int pass) => new(TouchCycles, pass * Pages, Pages);
}
