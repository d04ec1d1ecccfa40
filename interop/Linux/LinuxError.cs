using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>A failed system call: which call, on what, and the errno with the C library's text for it.</summary>
public sealed class LinuxError(string operation, int errno)
    : Exception($"{operation} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;

    public static LinuxError Last(string operation) => new(operation, Marshal.GetLastPInvokeError());
}
