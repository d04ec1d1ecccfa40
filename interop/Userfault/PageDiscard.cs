using SsiHv.Interop.Linux;
using SsiHv.Interop.Memory;

namespace SsiHv.Interop.Userfault;

/// <summary>
/// madvise(MADV_DONTNEED) on private anonymous memory: the pages are freed and the range reads as missing
/// again, so the next access faults (to the userfaultfd when the range is registered). KVM's MMU notifier
/// drops the guest's mappings of those pages too.
/// </summary>
public static unsafe class PageDiscard
{
    /// <summary>Discards [address, address+length); both page-aligned.</summary>
    public static void DontNeed(nint address, ulong length)
    {
        if (NativeLibc.madvise((void*)address, (nuint)length, NativeLibc.MADV_DONTNEED) != 0)
            throw LinuxError.Last($"madvise(MADV_DONTNEED) of [0x{address:X}, +0x{length:X})");
    }

    /// <summary>Discards [offset, offset+length) of the mapping; both page-aligned.</summary>
    public static void DiscardPages(this AnonymousMapping mapping, ulong offset, ulong length)
    {
        if (offset > mapping.Length || length > mapping.Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{length}) is outside the {mapping.Length}-byte mapping");
        DontNeed(mapping.Address + (nint)offset, length);
    }
}
