using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>
/// kill(2) for child processes: .NET's Process.Kill sends only SIGKILL, and a node host must first get SIGTERM
/// so that it can close its connections and unmap guest memory.
/// </summary>
public static partial class ProcessSignal
{
    const int SigTerm = 15;
    const int NoSuchProcess = 3; // ESRCH

    /// Sends SIGTERM; false when the process is already gone. Other errors (EPERM) are thrown as LinuxError.
    public static bool Terminate(int pid)
    {
        if (kill(pid, SigTerm) == 0)
            return true;
        var error = LinuxError.Last($"kill({pid}, SIGTERM)");
        return error.Errno == NoSuchProcess ? false : throw error;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
