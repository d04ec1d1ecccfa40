using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>
/// setns(2) into a named network namespace (`ip netns add NAME` makes /run/netns/NAME). It moves only the calling
/// thread; sockets that thread creates afterwards belong to that namespace for good, whichever thread uses them.
/// </summary>
public static partial class NetworkNamespace
{
    const int CloneNewNet = 0x40000000;

    public static void EnterOnCurrentThread(string name)
    {
        var path = $"/run/netns/{name}";
        using var handle = File.OpenHandle(path);
        if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
            throw LinuxError.Last($"setns({path}, CLONE_NEWNET)");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int namespaceType);
}
