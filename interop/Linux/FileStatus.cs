using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SsiHv.Interop.Linux;

/// <summary>glibc's struct stat on x86-64, with the fields we read: the file's type bits and its size.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
public struct FileStatus
{
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(48)] public long Size;

    /// S_IFMT and the type values of &lt;sys/stat.h&gt;.
    public const uint TypeMask = 0xF000, Fifo = 0x1000, CharacterDevice = 0x2000, Directory = 0x4000,
        BlockDevice = 0x6000, Regular = 0x8000, SymbolicLink = 0xA000, Socket = 0xC000;

    public readonly uint Type => Mode & TypeMask;
}

/// <summary>Opening a file to read that may turn out to be no plain file at all.</summary>
public static class InputFileHandle
{
    /// <summary>
    /// Opens `path` read-only without blocking on a FIFO's missing writer and without making a terminal the
    /// controlling one, and returns its status as the open descriptor has it, so what is checked is what is read.
    /// </summary>
    public static unsafe SafeFileHandle Open(string path, out FileStatus status)
    {
        var fd = NativeLibc.open(path, NativeLibc.O_RDONLY | NativeLibc.O_NONBLOCK | NativeLibc.O_NOCTTY | NativeLibc.O_CLOEXEC);
        if (fd < 0)
            throw LinuxError.Last($"open {path}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        FileStatus result;
        if (NativeLibc.fstat(fd, &result) != 0)
        {
            var error = LinuxError.Last($"fstat {path}");
            handle.Dispose();
            throw error;
        }
        status = result;
        return handle;
    }
}
