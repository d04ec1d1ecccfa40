using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>
/// kill(2) for child processes: .NET's Process.Kill sends only SIGKILL, and a node host must first get SIGTERM
/// so that it can close its connections and unmap guest memory.
/// </summary>
public static partial class ProcessSignal
{
    const int SigTerm = 15, SigCont = 18, SigStop = 19;
    const int NoSuchProcess = 3; // ESRCH

    /// Sends SIGTERM; false when the process is already gone. Other errors (EPERM) are thrown as LinuxError.
    public static bool Terminate(int pid)
    {
        if (kill(pid, SigTerm) == 0)
            return true;
        var error = LinuxError.Last($"kill({pid}, SIGTERM)");
        return error.Errno == NoSuchProcess ? false : throw error;
    }

    /// SIGSTOP: the process stops answering anything, as a machine that hangs, until <see cref="Continue"/>.
    public static void Stop(int pid)
    {
        if (kill(pid, SigStop) != 0)
            throw LinuxError.Last($"kill({pid}, SIGSTOP)");
    }

    public static void Continue(int pid)
    {
        if (kill(pid, SigCont) != 0)
            throw LinuxError.Last($"kill({pid}, SIGCONT)");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
