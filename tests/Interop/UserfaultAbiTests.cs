using SsiHv.Interop.Userfault;
using Xunit;
using static SsiHv.Tests.Interop.OurLayout;

namespace SsiHv.Tests.Interop;

/// <summary>
/// Our userfaultfd struct layouts, ioctl numbers and constants against the kernel's own: a C program compiled
/// here against linux/userfaultfd.h prints sizeof/offsetof and the macros, and every value must match.
/// (Features newer than the installed headers, bits 13-16, are checked against the running kernel in
/// UserfaultTests instead.)
/// </summary>
public sealed class UserfaultAbiTests
{
    static readonly Lazy<Dictionary<string, ulong>> KernelValues = new(CompileAndRunProbe);

    public static TheoryData<string, ulong> OurValues() => new()
    {
        { "sizeof(struct uffd_msg)", Size<UserfaultMessage>() },
        { "offsetof(struct uffd_msg, event)", Offset<UserfaultMessage>(nameof(UserfaultMessage.Event)) },
        { "offsetof(struct uffd_msg, arg.pagefault.flags)", Offset<UserfaultMessage>(nameof(UserfaultMessage.PageFaultFlags)) },
        { "offsetof(struct uffd_msg, arg.pagefault.address)", Offset<UserfaultMessage>(nameof(UserfaultMessage.Address)) },
        { "offsetof(struct uffd_msg, arg.pagefault.feat.ptid)", Offset<UserfaultMessage>(nameof(UserfaultMessage.ThreadId)) },
        { "offsetof(struct uffd_msg, arg.fork.ufd)", Offset<UserfaultMessage>(nameof(UserfaultMessage.ForkDescriptor)) },
        { "offsetof(struct uffd_msg, arg.remap.from)", Offset<UserfaultMessage>(nameof(UserfaultMessage.RemapFrom)) },
        { "offsetof(struct uffd_msg, arg.remap.to)", Offset<UserfaultMessage>(nameof(UserfaultMessage.RemapTo)) },
        { "offsetof(struct uffd_msg, arg.remap.len)", Offset<UserfaultMessage>(nameof(UserfaultMessage.RemapLength)) },
        { "offsetof(struct uffd_msg, arg.remove.start)", Offset<UserfaultMessage>(nameof(UserfaultMessage.RangeStart)) },
        { "offsetof(struct uffd_msg, arg.remove.end)", Offset<UserfaultMessage>(nameof(UserfaultMessage.RangeEnd)) },
        { "sizeof(struct uffdio_api)", Size<UffdioApi>() },
        { "offsetof(struct uffdio_api, features)", Offset<UffdioApi>(nameof(UffdioApi.Features)) },
        { "offsetof(struct uffdio_api, ioctls)", Offset<UffdioApi>(nameof(UffdioApi.Ioctls)) },
        { "sizeof(struct uffdio_range)", Size<UffdioRange>() },
        { "sizeof(struct uffdio_register)", Size<UffdioRegister>() },
        { "offsetof(struct uffdio_register, mode)", Offset<UffdioRegister>(nameof(UffdioRegister.Mode)) },
        { "offsetof(struct uffdio_register, ioctls)", Offset<UffdioRegister>(nameof(UffdioRegister.Ioctls)) },
        { "sizeof(struct uffdio_copy)", Size<UffdioCopy>() },
        { "offsetof(struct uffdio_copy, mode)", Offset<UffdioCopy>(nameof(UffdioCopy.Mode)) },
        { "offsetof(struct uffdio_copy, copy)", Offset<UffdioCopy>(nameof(UffdioCopy.Copied)) },
        { "sizeof(struct uffdio_zeropage)", Size<UffdioZeropage>() },
        { "offsetof(struct uffdio_zeropage, mode)", Offset<UffdioZeropage>(nameof(UffdioZeropage.Mode)) },
        { "offsetof(struct uffdio_zeropage, zeropage)", Offset<UffdioZeropage>(nameof(UffdioZeropage.Zeroed)) },
        { "sizeof(struct uffdio_writeprotect)", Size<UffdioWriteProtect>() },
        { "offsetof(struct uffdio_writeprotect, mode)", Offset<UffdioWriteProtect>(nameof(UffdioWriteProtect.Mode)) },
        { "SYS_userfaultfd", UserfaultIoctl.SyscallNumber },
        { "UFFD_API", UserfaultIoctl.ApiVersion },
        { "UFFD_USER_MODE_ONLY", UserfaultIoctl.UserModeOnly },
        { "USERFAULTFD_IOC_NEW", UserfaultIoctl.New },
        { "UFFDIO_API", UserfaultIoctl.Api },
        { "UFFDIO_REGISTER", UserfaultIoctl.Register },
        { "UFFDIO_UNREGISTER", UserfaultIoctl.Unregister },
        { "UFFDIO_WAKE", UserfaultIoctl.Wake },
        { "UFFDIO_COPY", UserfaultIoctl.Copy },
        { "UFFDIO_ZEROPAGE", UserfaultIoctl.Zeropage },
        { "UFFDIO_WRITEPROTECT", UserfaultIoctl.WriteProtect },
        { "UFFDIO_CONTINUE", UserfaultIoctl.Continue },
        { "1ULL << _UFFDIO_REGISTER", (ulong)UserfaultIoctls.Register },
        { "1ULL << _UFFDIO_UNREGISTER", (ulong)UserfaultIoctls.Unregister },
        { "1ULL << _UFFDIO_WAKE", (ulong)UserfaultIoctls.Wake },
        { "1ULL << _UFFDIO_COPY", (ulong)UserfaultIoctls.Copy },
        { "1ULL << _UFFDIO_ZEROPAGE", (ulong)UserfaultIoctls.Zeropage },
        { "1ULL << _UFFDIO_WRITEPROTECT", (ulong)UserfaultIoctls.WriteProtect },
        { "1ULL << _UFFDIO_CONTINUE", (ulong)UserfaultIoctls.Continue },
        { "1ULL << _UFFDIO_API", (ulong)UserfaultIoctls.Api },
        { "UFFD_EVENT_PAGEFAULT", (ulong)UserfaultEvent.PageFault },
        { "UFFD_EVENT_FORK", (ulong)UserfaultEvent.Fork },
        { "UFFD_EVENT_REMAP", (ulong)UserfaultEvent.Remap },
        { "UFFD_EVENT_REMOVE", (ulong)UserfaultEvent.Remove },
        { "UFFD_EVENT_UNMAP", (ulong)UserfaultEvent.Unmap },
        { "UFFD_PAGEFAULT_FLAG_WRITE", (ulong)UserfaultPageFaultFlags.Write },
        { "UFFD_PAGEFAULT_FLAG_WP", (ulong)UserfaultPageFaultFlags.WriteProtect },
        { "UFFD_PAGEFAULT_FLAG_MINOR", (ulong)UserfaultPageFaultFlags.Minor },
        { "UFFD_FEATURE_PAGEFAULT_FLAG_WP", (ulong)UserfaultFeatures.PageFaultFlagWp },
        { "UFFD_FEATURE_EVENT_FORK", (ulong)UserfaultFeatures.EventFork },
        { "UFFD_FEATURE_EVENT_REMAP", (ulong)UserfaultFeatures.EventRemap },
        { "UFFD_FEATURE_EVENT_REMOVE", (ulong)UserfaultFeatures.EventRemove },
        { "UFFD_FEATURE_MISSING_HUGETLBFS", (ulong)UserfaultFeatures.MissingHugetlbfs },
        { "UFFD_FEATURE_MISSING_SHMEM", (ulong)UserfaultFeatures.MissingShmem },
        { "UFFD_FEATURE_EVENT_UNMAP", (ulong)UserfaultFeatures.EventUnmap },
        { "UFFD_FEATURE_SIGBUS", (ulong)UserfaultFeatures.Sigbus },
        { "UFFD_FEATURE_THREAD_ID", (ulong)UserfaultFeatures.ThreadId },
        { "UFFD_FEATURE_MINOR_HUGETLBFS", (ulong)UserfaultFeatures.MinorHugetlbfs },
        { "UFFD_FEATURE_MINOR_SHMEM", (ulong)UserfaultFeatures.MinorShmem },
        { "UFFD_FEATURE_EXACT_ADDRESS", (ulong)UserfaultFeatures.ExactAddress },
        { "UFFD_FEATURE_WP_HUGETLBFS_SHMEM", (ulong)UserfaultFeatures.WpHugetlbfsShmem },
        { "UFFDIO_REGISTER_MODE_MISSING", (ulong)UserfaultRegisterMode.Missing },
        { "UFFDIO_REGISTER_MODE_WP", (ulong)UserfaultRegisterMode.WriteProtect },
        { "UFFDIO_REGISTER_MODE_MINOR", (ulong)UserfaultRegisterMode.Minor },
        { "UFFDIO_COPY_MODE_DONTWAKE", (ulong)UserfaultCopyMode.DontWake },
        { "UFFDIO_COPY_MODE_WP", (ulong)UserfaultCopyMode.WriteProtect },
        { "UFFDIO_ZEROPAGE_MODE_DONTWAKE", UffdioZeropage.ModeDontWake },
        { "UFFDIO_WRITEPROTECT_MODE_WP", UffdioWriteProtect.ModeWriteProtect },
        { "UFFDIO_WRITEPROTECT_MODE_DONTWAKE", UffdioWriteProtect.ModeDontWake },
    };

    [Theory]
    [MemberData(nameof(OurValues))]
    public void Matches_linux_userfaultfd_h(string expression, ulong ours)
    {
        Assert.True(KernelValues.Value.TryGetValue(expression, out var kernel), $"the probe did not print {expression}");
        Assert.True(kernel == ours, $"{expression}: kernel says 0x{kernel:X}, we say 0x{ours:X}");
    }

    static Dictionary<string, ulong> CompileAndRunProbe() =>
        KernelHeaderValues.Evaluate(["sys/syscall.h", "sys/ioctl.h", "linux/userfaultfd.h"], OurValues().Select(row => (string)row[0]));
}
