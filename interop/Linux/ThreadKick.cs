namespace SsiHv.Interop.Linux;

/// <summary>
/// Interrupts a thread blocked in a system call (KVM_RUN) by sending it a real-time signal whose handler does
/// nothing: the call returns EINTR. The handler is one native `ret` instruction in an executable page, so no
/// managed code ever runs in signal context (that could deadlock with the garbage collector).
/// </summary>
public static unsafe class ThreadKick
{
    /// SIGRTMIN+3: glibc reserves SIGRTMIN..+1 internally and .NET uses SIGRTMIN for activation injection.
    public const int Signal = 37;

    static readonly object InstallLock = new();
    static bool installed;

    public static nuint CurrentThread() => NativeLibc.pthread_self();

    public static void EnsureInstalled()
    {
        lock (InstallLock)
        {
            if (installed)
                return;
            var page = NativeLibc.mmap(null, 4096, NativeLibc.PROT_READ | NativeLibc.PROT_WRITE | NativeLibc.PROT_EXEC,
                NativeLibc.MAP_PRIVATE | NativeLibc.MAP_ANONYMOUS, -1, 0);
            if (page == NativeLibc.MapFailed)
                throw LinuxError.Last("mmap of the signal handler page");
            *(byte*)page = 0xC3; // ret
            var action = new NativeLibc.SigAction { Handler = page, Flags = 0 }; // no SA_RESTART: KVM_RUN returns EINTR
            if (NativeLibc.sigaction(Signal, &action, null) != 0)
                throw LinuxError.Last("sigaction");
            installed = true;
        }
    }

    public static void Kick(nuint thread)
    {
        EnsureInstalled();
        NativeLibc.pthread_kill(thread, Signal);
    }
}
