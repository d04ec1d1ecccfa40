using System.Runtime.InteropServices;

namespace SsiHv.Interop.Userfault;

/// <summary>
/// ioctl request numbers of userfaultfd (linux/userfaultfd.h), spelled out as _IO/_IOR/_IOWR compute them:
/// direction in bits 30-31, argument size in bits 16-29, type 0xAA, number in bits 0-7.
/// tests/Interop/UserfaultAbiTests checks each against the kernel headers.
/// </summary>
public static class UserfaultIoctl
{
    const uint None = 0, Write = 1, Read = 2;
    const uint UffdType = 0xAA;

    static uint Encode(uint direction, uint number, uint size) => (direction << 30) | (size << 16) | (UffdType << 8) | number;
    static uint Ior(uint number, uint size) => Encode(Read, number, size);
    static uint Iowr(uint number, uint size) => Encode(Read | Write, number, size);

    /// On /dev/userfaultfd: creates a userfaultfd; the argument is the flags the syscall would take.
    public static readonly uint New = Encode(None, 0x00, 0);

    public static readonly uint Api = Iowr(0x3F, 24);
    public static readonly uint Register = Iowr(0x00, 32);
    public static readonly uint Unregister = Ior(0x01, 16);
    public static readonly uint Wake = Ior(0x02, 16);
    public static readonly uint Copy = Iowr(0x03, 40);
    public static readonly uint Zeropage = Iowr(0x04, 32);
    public static readonly uint WriteProtect = Iowr(0x06, 24);
    public static readonly uint Continue = Iowr(0x07, 32);

    /// SYS_userfaultfd on x86-64.
    public const int SyscallNumber = 323;

    /// UFFD_API: the only API version there is.
    public const ulong ApiVersion = 0xAA;

    /// UFFD_USER_MODE_ONLY: the descriptor only handles faults from user mode (never KVM's own accesses).
    public const int UserModeOnly = 1;
}

/// <summary>UFFD_FEATURE_* bits, asked for and granted in the UFFDIO_API handshake.</summary>
[Flags]
public enum UserfaultFeatures : ulong
{
    None = 0,
    PageFaultFlagWp = 1UL << 0,
    EventFork = 1UL << 1,
    EventRemap = 1UL << 2,
    EventRemove = 1UL << 3,
    MissingHugetlbfs = 1UL << 4,
    MissingShmem = 1UL << 5,
    EventUnmap = 1UL << 6,
    Sigbus = 1UL << 7,
    ThreadId = 1UL << 8,
    MinorHugetlbfs = 1UL << 9,
    MinorShmem = 1UL << 10,
    ExactAddress = 1UL << 11,
    WpHugetlbfsShmem = 1UL << 12,
    // Newer than the uapi headers installed here (checked against the kernel's own answer, not the headers):
    /// Write-protecting an unpopulated anonymous range installs markers, so the first write faults as WP.
    WpUnpopulated = 1UL << 13,
    /// UFFDIO_POISON.
    Poison = 1UL << 14,
    /// The kernel resolves WP faults itself (dirty tracking, read back with PAGEMAP_SCAN); no messages.
    WpAsync = 1UL << 15,
    /// UFFDIO_MOVE.
    Move = 1UL << 16,
}

/// <summary>UFFDIO_REGISTER_MODE_*.</summary>
[Flags]
public enum UserfaultRegisterMode : ulong
{
    Missing = 1UL << 0,
    WriteProtect = 1UL << 1,
    Minor = 1UL << 2,
}

/// <summary>One bit per ioctl (1 &lt;&lt; _UFFDIO_*): what UFFDIO_API and UFFDIO_REGISTER report as usable.</summary>
[Flags]
public enum UserfaultIoctls : ulong
{
    None = 0,
    Register = 1UL << 0x00,
    Unregister = 1UL << 0x01,
    Wake = 1UL << 0x02,
    Copy = 1UL << 0x03,
    Zeropage = 1UL << 0x04,
    Move = 1UL << 0x05,
    WriteProtect = 1UL << 0x06,
    Continue = 1UL << 0x07,
    Poison = 1UL << 0x08,
    Api = 1UL << 0x3F,
}

/// <summary>UFFD_EVENT_* in uffd_msg.event.</summary>
public enum UserfaultEvent : byte
{
    PageFault = 0x12,
    Fork = 0x13,
    Remap = 0x14,
    Remove = 0x15,
    Unmap = 0x16,
}

/// <summary>UFFD_PAGEFAULT_FLAG_* in uffd_msg.arg.pagefault.flags.</summary>
[Flags]
public enum UserfaultPageFaultFlags : ulong
{
    /// A read of a missing page.
    None = 0,
    Write = 1UL << 0,
    WriteProtect = 1UL << 1,
    Minor = 1UL << 2,
}

/// <summary>UFFDIO_COPY_MODE_*.</summary>
[Flags]
public enum UserfaultCopyMode : ulong
{
    None = 0,
    /// Do not wake the faulting threads; a later UFFDIO_WAKE (or a waking call) does.
    DontWake = 1UL << 0,
    /// Install the page write-protected (the range must be registered with WriteProtect).
    WriteProtect = 1UL << 1,
}

/// <summary>
/// struct uffd_msg: 32 bytes, one per read. The union after the 8-byte header is exposed through the field
/// names of each event; only those of <see cref="Event"/> mean anything.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct UserfaultMessage
{
    [FieldOffset(0)] public UserfaultEvent Event;

    // UFFD_EVENT_PAGEFAULT
    [FieldOffset(8)] public UserfaultPageFaultFlags PageFaultFlags;
    /// The faulting address, rounded down to the page unless UFFD_FEATURE_EXACT_ADDRESS was granted.
    [FieldOffset(16)] public ulong Address;
    /// Thread id of the faulting task; only with UFFD_FEATURE_THREAD_ID.
    [FieldOffset(24)] public uint ThreadId;

    // UFFD_EVENT_FORK: the child's new userfaultfd.
    [FieldOffset(8)] public uint ForkDescriptor;

    // UFFD_EVENT_REMAP
    [FieldOffset(8)] public ulong RemapFrom;
    [FieldOffset(16)] public ulong RemapTo;
    [FieldOffset(24)] public ulong RemapLength;

    // UFFD_EVENT_REMOVE and UFFD_EVENT_UNMAP: [RangeStart, RangeEnd).
    [FieldOffset(8)] public ulong RangeStart;
    [FieldOffset(16)] public ulong RangeEnd;
}

/// <summary>struct uffdio_api.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioApi
{
    public ulong Api;
    public UserfaultFeatures Features;
    public UserfaultIoctls Ioctls;
}

/// <summary>struct uffdio_range.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioRange
{
    public ulong Start;
    public ulong Length;
}

/// <summary>struct uffdio_register.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioRegister
{
    public UffdioRange Range;
    public UserfaultRegisterMode Mode;
    public UserfaultIoctls Ioctls;
}

/// <summary>struct uffdio_copy; <see cref="Copied"/> is bytes copied or a negative errno.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioCopy
{
    public ulong Destination;
    public ulong Source;
    public ulong Length;
    public UserfaultCopyMode Mode;
    public long Copied;
}

/// <summary>struct uffdio_zeropage; <see cref="Zeroed"/> is bytes zero-mapped or a negative errno.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioZeropage
{
    public UffdioRange Range;
    public ulong Mode;
    public long Zeroed;

    public const ulong ModeDontWake = 1UL << 0;
}

/// <summary>struct uffdio_writeprotect.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UffdioWriteProtect
{
    public UffdioRange Range;
    public ulong Mode;

    public const ulong ModeWriteProtect = 1UL << 0;
    public const ulong ModeDontWake = 1UL << 1;
}
