using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>realpath(3): a path with every symlink, `.` and `..` resolved by the kernel's view of the file system.</summary>
public static class CanonicalPath
{
    /// The canonical absolute path of an existing `path`; throws <see cref="LinuxError"/> when it does not resolve.
    public static unsafe string Resolve(string path)
    {
        var resolved = NativeLibc.realpath(path, null);
        if (resolved is null)
            throw LinuxError.Last($"realpath {path}");
        try
        {
            return Marshal.PtrToStringUTF8((nint)resolved)!;
        }
        finally
        {
            NativeLibc.free(resolved);
        }
    }
}
