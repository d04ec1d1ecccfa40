using System.Runtime.InteropServices;

namespace SsiHv.Interop.Linux;

/// <summary>The libc entry points interop calls, declared here rather than taken from Tmds.LibC, with errno captured for LinuxError.</summary>
internal static unsafe partial class NativeLibc
{
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fstat(int fd, FileStatus* status);

    /// With a null buffer glibc allocates the result, which the caller frees.
    [LibraryImport("libc", SetLastError = true)]
    internal static partial byte* realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte* resolved);

    [LibraryImport("libc")]
    internal static partial void free(void* pointer);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int getrlimit(int resource, OpenFilesLimit.ResourceLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setrlimit(int resource, OpenFilesLimit.ResourceLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int ioctl(int fd, nuint request, nuint argument);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int madvise(void* address, nuint length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int sched_setaffinity(int pid, nuint maskBytes, ulong* mask);

    [LibraryImport("libc")]
    internal static partial nuint pthread_self();

    [LibraryImport("libc")]
    internal static partial int pthread_kill(nuint thread, int signal);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int sigaction(int signal, SigAction* action, SigAction* previous);

    /// glibc's struct sigaction on x86-64: handler, 1024-bit mask, flags, restorer.
    [StructLayout(LayoutKind.Sequential)]
    internal struct SigAction
    {
        public void* Handler;
        public fixed ulong Mask[16];
        public int Flags;
        public void* Restorer;
    }

    internal const int O_RDONLY = 0, O_RDWR = 2, O_NOCTTY = 0x100;
    internal const int O_CLOEXEC = 0x80000;
    internal const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    internal const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    internal const int EINTR = 4, EAGAIN = 11;
    internal static readonly void* MapFailed = (void*)-1;

    // userfaultfd (interop/Userfault): the syscall, poll/read of its messages, an eventfd to stop a reader.

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint syscall(nint number, nint argument);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint syscall(nint number, nint argument, nint secondArgument);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int eventfd(uint initialValue, int flags);

    /// struct pollfd.
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    internal const short POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    internal const int O_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    internal const int MADV_DONTNEED = 4;
    internal const int EPERM = 1, ENOENT = 2, ESRCH = 3, EEXIST = 17, EINVAL = 22, ENOSYS = 38;
}
