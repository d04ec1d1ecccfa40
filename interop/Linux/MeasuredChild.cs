using System.Runtime.InteropServices;
using System.Text;

namespace SsiHv.Interop.Linux;

/// <summary>How a child process ended: its exit code, or the signal that ended it.</summary>
public sealed record ChildExit(int? ExitCode, int? Signal)
{
    public bool Succeeded => ExitCode == 0;
    public string Describe() => ExitCode is { } code ? $"exit {code}" : $"killed by signal {Signal}";

    /// From the status wait4 gives (WIFEXITED, WEXITSTATUS, WTERMSIG).
    public static ChildExit FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? new ChildExit((status >> 8) & 0xff, null) : new ChildExit(null, status & 0x7f);
}

/// <summary>
/// A child process started with posix_spawn and reaped with wait4, for benchmarks that time a process from its
/// start to its exit: its exit is awaited through a pidfd, so a wait is bounded without sleeping between polls,
/// and it can be sent any signal (a node host SIGTERM). Its stdin is /dev/null and its stdout and stderr go to one
/// file, for the message of a failed run. Not for its peak RSS: posix_spawn's child shares this process's memory
/// until it execs, and the kernel keeps the larger peak across exec (bench/reference/child_rusage.c measures it).
/// </summary>
public sealed unsafe partial class MeasuredChild : IDisposable
{
    const int SigKill = 9;
    const int PosixSpawnSetSigDef = 0x04, PosixSpawnSetSigMask = 0x08;
    const int OutputFlags = 0x1 /* O_WRONLY */ | 0x40 /* O_CREAT */ | 0x200 /* O_TRUNC */;
    const nint SysPidfdOpen = 434;
    /// glibc's posix_spawn_file_actions_t (80 B) and posix_spawnattr_t (336 B) on x86-64, with room to spare.
    const int FileActionsBytes = 256, AttributesBytes = 512, SignalSetBytes = 128;

    readonly int pidfd;
    ChildExit? exit;

    public int Pid { get; }

    MeasuredChild(int pid, int pidfd) => (Pid, this.pidfd) = (pid, pidfd);

    /// Starts `executable` (a path; a script with #! works) with `arguments`, this process's environment, and
    /// stdout and stderr written to `outputPath`.
    public static MeasuredChild Start(string executable, IReadOnlyList<string> arguments, string outputPath)
    {
        var strings = new List<nint>();
        var fileActions = NativeMemory.AllocZeroed(FileActionsBytes);
        var attributes = NativeMemory.AllocZeroed(AttributesBytes);
        var signals = NativeMemory.AllocZeroed(SignalSetBytes);
        try
        {
            Check(posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            Check(posix_spawn_file_actions_addopen(fileActions, 0, "/dev/null", NativeLibc.O_RDONLY, 0), "posix_spawn_file_actions_addopen(/dev/null)");
            Check(posix_spawn_file_actions_addopen(fileActions, 1, outputPath, OutputFlags, 0x180 /* 0600 */), $"posix_spawn_file_actions_addopen({outputPath})");
            Check(posix_spawn_file_actions_adddup2(fileActions, 1, 2), "posix_spawn_file_actions_adddup2");
            // The runtime blocks and handles signals in its own threads; the child starts as a fresh process would,
            // so that SIGTERM reaches a node host's handler.
            Check(posix_spawnattr_init(attributes), "posix_spawnattr_init");
            sigemptyset(signals);
            Check(posix_spawnattr_setsigmask(attributes, signals), "posix_spawnattr_setsigmask");
            sigfillset(signals);
            Check(posix_spawnattr_setsigdefault(attributes, signals), "posix_spawnattr_setsigdefault");
            Check(posix_spawnattr_setflags(attributes, PosixSpawnSetSigDef | PosixSpawnSetSigMask), "posix_spawnattr_setflags");

            var argv = NullTerminated([executable, .. arguments], strings);
            var environment = Environment.GetEnvironmentVariables();
            var envp = NullTerminated(environment.Keys.Cast<string>().Select(key => $"{key}={environment[key]}").ToList(), strings);
            int pid;
            Check(posix_spawn(&pid, executable, fileActions, attributes, argv, envp), $"posix_spawn({executable})");
            var pidfd = (int)NativeLibc.syscall(SysPidfdOpen, pid, 0);
            if (pidfd < 0)
            {
                var error = LinuxError.Last($"pidfd_open({pid})");
                kill(pid, SigKill);
                wait4(pid, null, 0, null);
                throw error;
            }
            return new MeasuredChild(pid, pidfd);
        }
        finally
        {
            posix_spawnattr_destroy(attributes);
            posix_spawn_file_actions_destroy(fileActions);
            NativeMemory.Free(signals);
            NativeMemory.Free(attributes);
            NativeMemory.Free(fileActions);
            strings.ForEach(pointer => NativeMemory.Free((void*)pointer));
        }
    }

    /// The child's end, or null when it is still running after `timeout` (TimeSpan.Zero: just look).
    public ChildExit? WaitForExit(TimeSpan timeout)
    {
        if (exit is not null)
            return exit;
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var poll = new NativeLibc.PollFd { Fd = pidfd, Events = NativeLibc.POLLIN };
        while (true)
        {
            var ready = NativeLibc.poll(&poll, 1, (int)Math.Max(0, deadline - Environment.TickCount64));
            if (ready > 0)
                break;
            if (ready == 0)
                return null;
            if (Marshal.GetLastPInvokeError() != NativeLibc.EINTR)
                throw LinuxError.Last($"poll(pidfd of {Pid})");
        }
        int status;
        while (wait4(Pid, &status, 0, null) < 0)
            if (Marshal.GetLastPInvokeError() != NativeLibc.EINTR)
                throw LinuxError.Last($"wait4({Pid})");
        exit = ChildExit.FromWaitStatus(status);
        return exit;
    }

    /// Sends `signal` to the child unless it has been reaped (its pid may then be another process's).
    public void Signal(int signal)
    {
        if (exit is null && kill(Pid, signal) != 0)
            throw LinuxError.Last($"kill({Pid}, {signal})");
    }

    /// A child still running is killed and reaped, so that no benchmark leaves a process or a zombie behind.
    public void Dispose()
    {
        if (exit is null)
        {
            kill(Pid, SigKill);
            WaitForExit(TimeSpan.FromSeconds(10));
        }
        NativeLibc.close(pidfd);
    }

    static byte** NullTerminated(IReadOnlyList<string> values, List<nint> allocated)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(byte*));
        allocated.Add((nint)array);
        for (var i = 0; i < values.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(values[i]);
            var text = (byte*)NativeMemory.AllocZeroed((nuint)bytes.Length + 1);
            allocated.Add((nint)text);
            bytes.CopyTo(new Span<byte>(text, bytes.Length));
            array[i] = text;
        }
        return array;
    }

    /// The posix_spawn family returns its error number instead of setting errno.
    static void Check(int result, string operation)
    {
        if (result != 0)
            throw new LinuxError(operation, result);
    }

    [LibraryImport("libc")]
    private static partial int posix_spawn(int* pid, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_addopen(void* fileActions, int fd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mode);

    [LibraryImport("libc")]
    private static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigmask(void* attributes, void* signals);

    [LibraryImport("libc")]
    private static partial int posix_spawnattr_setsigdefault(void* attributes, void* signals);

    [LibraryImport("libc")]
    private static partial int sigemptyset(void* signals);

    [LibraryImport("libc")]
    private static partial int sigfillset(void* signals);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int wait4(int pid, int* status, int options, void* usage);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
