namespace SsiHv.Interop.Linux;

/// <summary>sched_setaffinity(2) for the calling thread.</summary>
public static unsafe class CpuAffinity
{
    /// The kernel's cpu_set_t size that glibc uses: 1024 CPUs.
    const int MaskWords = 1024 / 64;

    /// Pins the calling thread to one CPU. Throws LinuxError naming the CPU when the kernel refuses (e.g. a CPU
    /// that is not online or not in this process's cpuset).
    public static void PinCurrentThread(int cpu)
    {
        if (cpu is < 0 or >= MaskWords * 64)
            throw new ArgumentOutOfRangeException(nameof(cpu), $"CPU {cpu}: expected 0..{MaskWords * 64 - 1}");
        var mask = stackalloc ulong[MaskWords];
        new Span<ulong>(mask, MaskWords).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        if (NativeLibc.sched_setaffinity(0, (nuint)(MaskWords * sizeof(ulong)), mask) != 0)
            throw LinuxError.Last($"sched_setaffinity to CPU {cpu}");
    }
}
