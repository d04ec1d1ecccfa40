using System.Runtime.InteropServices;

namespace SsiHv.Interop.Memory;

/// <summary>
/// Copies to or from memory that userfaultfd may stall, through libc's memmove. The P/Invoke puts the calling
/// thread in preemptive mode for the copy, so a garbage collection can proceed while the thread waits for the
/// pager to resolve a fault. A plain managed copy would stall inside managed code: the GC would wait for that
/// thread, the pager thread would be suspended by the GC, and the process would deadlock.
/// </summary>
public static unsafe partial class NativeCopy
{
    [LibraryImport("libc", EntryPoint = "memmove")]
    private static partial void* MemMove(void* destination, void* source, nuint count);

    public static void Copy(nint destination, nint source, ulong count) => MemMove((void*)destination, (void*)source, (nuint)count);

    public static void ToMemory(nint destination, ReadOnlySpan<byte> source)
    {
        fixed (byte* bytes = source)
            MemMove((void*)destination, bytes, (nuint)source.Length);
    }

    public static void FromMemory(Span<byte> destination, nint source)
    {
        fixed (byte* bytes = destination)
            MemMove(bytes, (void*)source, (nuint)destination.Length);
    }
}
