using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Kvm;

/// <summary>ioctl on a KVM descriptor; a negative return becomes a LinuxError naming the request.</summary>
internal static unsafe class KvmCall
{
    public static int Ioctl(FileDescriptor fd, uint request, nuint argument, string name)
    {
        var result = NativeLibc.ioctl(fd.Fd, request, argument);
        return result < 0 ? throw LinuxError.Last(name) : result;
    }

    public static int Ioctl(FileDescriptor fd, uint request, void* argument, string name)
    {
        var result = NativeLibc.ioctl(fd.Fd, request, argument);
        return result < 0 ? throw LinuxError.Last(name) : result;
    }
}
