using Microsoft.Win32.SafeHandles;

namespace SsiHv.Interop.Linux;

/// <summary>An owned file descriptor, closed exactly once.</summary>
public class FileDescriptor : SafeHandleZeroOrMinusOneIsInvalid
{
    public FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => NativeLibc.close((int)handle) == 0;

    public static FileDescriptor Open(string path)
    {
        var fd = NativeLibc.open(path, NativeLibc.O_RDWR | NativeLibc.O_CLOEXEC);
        if (fd < 0)
            throw LinuxError.Last($"open {path}");
        return new FileDescriptor(fd);
    }
}
