using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Kvm;

/// <summary>/dev/kvm: the API version check and VM creation.</summary>
public sealed class KvmSystem : IDisposable
{
    public const int ExpectedApiVersion = 12;
    public const string DevicePath = "/dev/kvm";

    readonly FileDescriptor fd;

    KvmSystem(FileDescriptor fd) => this.fd = fd;

    public static KvmSystem Open()
    {
        var fd = FileDescriptor.Open(DevicePath);
        var version = KvmCall.Ioctl(fd, KvmIoctl.GetApiVersion, 0, "KVM_GET_API_VERSION");
        if (version != ExpectedApiVersion)
        {
            fd.Dispose();
            throw new InvalidOperationException($"{DevicePath} speaks KVM API {version}; expected {ExpectedApiVersion}");
        }
        return new KvmSystem(fd);
    }

    public int VcpuMmapSize => KvmCall.Ioctl(fd, KvmIoctl.GetVcpuMmapSize, 0, "KVM_GET_VCPU_MMAP_SIZE");

    public int CheckExtension(int capability) => KvmCall.Ioctl(fd, KvmIoctl.CheckExtension, (nuint)capability, "KVM_CHECK_EXTENSION");

    public KvmVm CreateVm()
    {
        var vmFd = KvmCall.Ioctl(fd, KvmIoctl.CreateVm, 0, "KVM_CREATE_VM");
        return new KvmVm(new FileDescriptor(vmFd), VcpuMmapSize);
    }

    /// KVM_GET_SUPPORTED_CPUID: the CPUID leaves this host's KVM can present.
    public unsafe KvmCpuidEntry2[] SupportedCpuid()
    {
        const int maxEntries = 256;
        var buffer = new byte[KvmAbi.Cpuid2HeaderSize + maxEntries * sizeof(KvmCpuidEntry2)];
        fixed (byte* p = buffer)
        {
            *(uint*)p = maxEntries;
            KvmCall.Ioctl(fd, KvmIoctl.GetSupportedCpuid, p, "KVM_GET_SUPPORTED_CPUID");
            var count = (int)*(uint*)p;
            return new ReadOnlySpan<KvmCpuidEntry2>(p + KvmAbi.Cpuid2HeaderSize, count).ToArray();
        }
    }

    public void Dispose() => fd.Dispose();
}
