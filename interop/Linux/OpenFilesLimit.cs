using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>RLIMIT_NOFILE of this process: how many descriptors it may hold open.</summary>
public static class OpenFilesLimit
{
    /// struct rlimit on x86-64.
    [StructLayout(LayoutKind.Sequential)]
    public struct ResourceLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    public const int RlimitNofile = 7;

    public static unsafe ResourceLimit Get()
    {
        ResourceLimit limit;
        if (NativeLibc.getrlimit(RlimitNofile, &limit) != 0)
            throw LinuxError.Last("getrlimit RLIMIT_NOFILE");
        return limit;
    }

    /// Sets the soft limit; an unprivileged process may raise it up to the hard limit.
    public static unsafe void SetSoft(ulong soft)
    {
        var limit = Get();
        limit.Soft = soft;
        if (NativeLibc.setrlimit(RlimitNofile, &limit) != 0)
            throw LinuxError.Last($"setrlimit RLIMIT_NOFILE {soft}");
    }
}
