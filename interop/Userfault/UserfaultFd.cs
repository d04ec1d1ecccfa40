using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Userfault;

/// <summary>How a UFFDIO_COPY or UFFDIO_ZEROPAGE ended when it did not fail outright.</summary>
public enum UserfaultFillStatus
{
    /// Every byte of the range was installed (and the waiters woken unless DontWake was asked).
    Done,
    /// EEXIST: the first page of the range was already present (another resolution won the race); nothing
    /// was installed and nobody was woken: wake the range if a thread may still wait on it.
    PageExists,
    /// EAGAIN: the address space was changing (fork, mremap, munmap in flight) or only a prefix of the range
    /// was installed; <see cref="UserfaultFillResult.Bytes"/> says how much. Retry the rest.
    TryAgain,
}

/// <summary>The outcome of a UFFDIO_COPY or UFFDIO_ZEROPAGE: a status and the number of bytes installed.</summary>
public readonly record struct UserfaultFillResult(UserfaultFillStatus Status, ulong Bytes);

/// <summary>Where <see cref="UserfaultFd.Open"/> gets its descriptor.</summary>
public enum UserfaultSource
{
    /// userfaultfd(2), then /dev/userfaultfd if the syscall is refused with EPERM (vm.unprivileged_userfaultfd
    /// is 0 and the caller lacks CAP_SYS_PTRACE; access to the device is governed by its file mode instead).
    SyscallThenDevice,
    /// userfaultfd(2) only.
    Syscall,
    /// USERFAULTFD_IOC_NEW on /dev/userfaultfd only.
    Device,
}

/// <summary>What a <see cref="UserfaultFd.Read"/> returned.</summary>
public enum UserfaultReadStatus
{
    /// At least one message was read.
    Messages,
    /// No message arrived within the timeout.
    TimedOut,
    /// <see cref="UserfaultFd.RequestStop"/> was called (sticky: every later read returns this at once).
    Stopped,
    /// <see cref="UserfaultFd.Interrupt"/> was called since the last read (consumed by this read).
    Interrupted,
}

/// <summary>
/// A userfaultfd after its UFFDIO_API handshake, non-blocking and close-on-exec, plus an eventfd that stops
/// readers. Register ranges, read fault messages with a timeout, resolve them with COPY / ZEROPAGE /
/// WRITEPROTECT / WAKE. Closing it wakes every thread still waiting on one of its faults and unregisters its
/// ranges (their pages then fault in normally). Calls are safe from any number of threads; no call allocates
/// unless it fails.
/// </summary>
public sealed unsafe class UserfaultFd : IDisposable
{
    readonly FileDescriptor fd;
    readonly FileDescriptor stop;
    /// Non-sticky wake-up for a reader that also serves work queued by other threads.
    readonly FileDescriptor interrupt;

    /// The features this descriptor was opened with (UFFDIO_API enables exactly the requested ones).
    public UserfaultFeatures Features { get; }

    /// Every feature the kernel offers (UFFDIO_API reports them all, whatever was requested).
    public UserfaultFeatures AvailableFeatures { get; }

    /// The ioctls usable on the descriptor itself (REGISTER, UNREGISTER, API).
    public UserfaultIoctls Ioctls { get; }

    /// How the descriptor was obtained: "userfaultfd(2)" or "/dev/userfaultfd".
    public string Source { get; }

    public int Fd => fd.Fd;

    UserfaultFd(FileDescriptor fd, FileDescriptor stop, UserfaultFeatures features, in UffdioApi api, string source)
    {
        this.fd = fd;
        this.stop = stop;
        var interruptFd = NativeLibc.eventfd(0, NativeLibc.EFD_CLOEXEC | NativeLibc.EFD_NONBLOCK);
        if (interruptFd < 0)
            throw LinuxError.Last("eventfd for the userfaultfd reader interrupt signal");
        interrupt = new FileDescriptor(interruptFd);
        Features = features;
        AvailableFeatures = api.Features;
        Ioctls = api.Ioctls;
        Source = source;
    }

    /// <summary>
    /// Opens a userfaultfd from <paramref name="source"/> and enables <paramref name="features"/> (UFFDIO_API).
    /// <paramref name="userModeOnly"/> asks for UFFD_USER_MODE_ONLY: enough for host threads, but faults the
    /// kernel takes on the process's behalf (KVM touching guest memory) are then not reported; leave it off
    /// for guest memory.
    /// </summary>
    public static UserfaultFd Open(UserfaultFeatures features, UserfaultSource source = UserfaultSource.SyscallThenDevice,
        bool userModeOnly = false)
    {
        var (raw, how) = OpenRaw(source, userModeOnly);
        var descriptor = new FileDescriptor(raw);
        try
        {
            var api = new UffdioApi { Api = UserfaultIoctl.ApiVersion, Features = features };
            if (NativeLibc.ioctl(descriptor.Fd, UserfaultIoctl.Api, &api) < 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                var offered = errno == NativeLibc.EINVAL ? $"; the kernel offers {QueryAvailableFeatures()}" : "";
                throw new LinuxError($"UFFDIO_API asking for features {features}{offered}", errno);
            }
            var stopFd = NativeLibc.eventfd(0, NativeLibc.EFD_CLOEXEC | NativeLibc.EFD_NONBLOCK);
            if (stopFd < 0)
                throw LinuxError.Last("eventfd for the userfaultfd reader stop signal");
            return new UserfaultFd(descriptor, new FileDescriptor(stopFd), features, api, how);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// The features the running kernel supports, from a handshake on a throwaway descriptor (UFFDIO_API can
    /// be done once per descriptor).
    public static UserfaultFeatures QueryAvailableFeatures()
    {
        var (raw, _) = OpenRaw(UserfaultSource.SyscallThenDevice, userModeOnly: false);
        using var descriptor = new FileDescriptor(raw);
        var api = new UffdioApi { Api = UserfaultIoctl.ApiVersion };
        if (NativeLibc.ioctl(descriptor.Fd, UserfaultIoctl.Api, &api) < 0)
            throw LinuxError.Last("UFFDIO_API asking for no features");
        return api.Features;
    }

    static (int Fd, string Source) OpenRaw(UserfaultSource source, bool userModeOnly)
    {
        var flags = NativeLibc.O_CLOEXEC | NativeLibc.O_NONBLOCK | (userModeOnly ? UserfaultIoctl.UserModeOnly : 0);
        var refused = "";
        if (source != UserfaultSource.Device)
        {
            var fd = (int)NativeLibc.syscall(UserfaultIoctl.SyscallNumber, flags);
            if (fd >= 0)
                return (fd, "userfaultfd(2)");
            var syscallErrno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (syscallErrno != NativeLibc.EPERM || source == UserfaultSource.Syscall)
                throw new LinuxError("userfaultfd(2)", syscallErrno);
            refused = "userfaultfd(2) was refused (EPERM: vm.unprivileged_userfaultfd is 0 and no CAP_SYS_PTRACE), and ";
        }
        return OpenThroughDevice(flags, refused);
    }

    static (int Fd, string Source) OpenThroughDevice(int flags, string refused)
    {
        var device = NativeLibc.open("/dev/userfaultfd", NativeLibc.O_RDWR | NativeLibc.O_CLOEXEC);
        if (device < 0)
            throw LinuxError.Last($"{refused}open /dev/userfaultfd");
        try
        {
            var fd = NativeLibc.ioctl(device, UserfaultIoctl.New, (nuint)flags);
            return fd >= 0 ? (fd, "/dev/userfaultfd") : throw LinuxError.Last("USERFAULTFD_IOC_NEW on /dev/userfaultfd");
        }
        finally
        {
            NativeLibc.close(device);
        }
    }

    /// <summary>UFFDIO_REGISTER: reports faults in [start, start+length) per <paramref name="mode"/>; returns the
    /// ioctls usable on that range (COPY, ZEROPAGE, WRITEPROTECT, WAKE, ...). Page-aligned start and length.</summary>
    public UserfaultIoctls Register(nint start, ulong length, UserfaultRegisterMode mode)
    {
        var argument = new UffdioRegister { Range = new UffdioRange { Start = (ulong)start, Length = length }, Mode = mode };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.Register, &argument) < 0)
            throw LinuxError.Last($"UFFDIO_REGISTER ({mode}) of [0x{start:X}, +0x{length:X})");
        return argument.Ioctls;
    }

    /// <summary>UFFDIO_UNREGISTER: the range faults in normally again; threads waiting on it are woken.</summary>
    public void Unregister(nint start, ulong length)
    {
        var range = new UffdioRange { Start = (ulong)start, Length = length };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.Unregister, &range) < 0)
            throw LinuxError.Last($"UFFDIO_UNREGISTER of [0x{start:X}, +0x{length:X})");
    }

    /// <summary>UFFDIO_COPY: atomically installs a copy of [source, source+length) at destination (missing
    /// pages of a registered range) and wakes its waiters unless <see cref="UserfaultCopyMode.DontWake"/>.
    /// "Already present" and "try again" are results, not exceptions.</summary>
    public UserfaultFillResult Copy(nint destination, nint source, ulong length, UserfaultCopyMode mode = UserfaultCopyMode.None)
    {
        var argument = new UffdioCopy { Destination = (ulong)destination, Source = (ulong)source, Length = length, Mode = mode };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.Copy, &argument) >= 0)
            return new UserfaultFillResult(UserfaultFillStatus.Done, length);
        return FillFailure(argument.Copied, "UFFDIO_COPY", destination, length);
    }

    /// <summary>UFFDIO_ZEROPAGE: maps the shared zero page over missing pages of [start, start+length) (a later
    /// write faults in a private page without a uffd message) and wakes the waiters unless
    /// <paramref name="dontWake"/>.</summary>
    public UserfaultFillResult Zeropage(nint start, ulong length, bool dontWake = false)
    {
        var argument = new UffdioZeropage
        {
            Range = new UffdioRange { Start = (ulong)start, Length = length },
            Mode = dontWake ? UffdioZeropage.ModeDontWake : 0,
        };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.Zeropage, &argument) >= 0)
            return new UserfaultFillResult(UserfaultFillStatus.Done, length);
        return FillFailure(argument.Zeroed, "UFFDIO_ZEROPAGE", start, length);
    }

    static UserfaultFillResult FillFailure(long done, string operation, nint start, ulong length)
    {
        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno == NativeLibc.EEXIST)
            return new UserfaultFillResult(UserfaultFillStatus.PageExists, 0);
        if (errno == NativeLibc.EAGAIN)
            return new UserfaultFillResult(UserfaultFillStatus.TryAgain, done > 0 ? (ulong)done : 0);
        throw new LinuxError($"{operation} of [0x{start:X}, +0x{length:X})", errno);
    }

    /// <summary>UFFDIO_WRITEPROTECT: sets (<paramref name="protect"/>) or clears write protection on
    /// [start, start+length) of a range registered with WriteProtect. Clearing wakes the threads waiting on a
    /// WP fault there unless <paramref name="dontWake"/>.</summary>
    public void WriteProtect(nint start, ulong length, bool protect, bool dontWake = false)
    {
        var argument = new UffdioWriteProtect
        {
            Range = new UffdioRange { Start = (ulong)start, Length = length },
            Mode = (protect ? UffdioWriteProtect.ModeWriteProtect : 0) | (dontWake ? UffdioWriteProtect.ModeDontWake : 0),
        };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.WriteProtect, &argument) < 0)
            throw LinuxError.Last($"UFFDIO_WRITEPROTECT ({(protect ? "set" : "clear")}) of [0x{start:X}, +0x{length:X})");
    }

    /// <summary>UFFDIO_WAKE: wakes the threads waiting on faults in [start, start+length) (after DontWake
    /// installs, or after a PageExists race); they retry their access.</summary>
    public void Wake(nint start, ulong length)
    {
        var range = new UffdioRange { Start = (ulong)start, Length = length };
        if (NativeLibc.ioctl(fd.Fd, UserfaultIoctl.Wake, &range) < 0)
            throw LinuxError.Last($"UFFDIO_WAKE of [0x{start:X}, +0x{length:X})");
    }

    /// <summary>
    /// Reads as many pending messages as fit in <paramref name="messages"/>, waiting at most
    /// <paramref name="timeoutMilliseconds"/> (-1: until a message or <see cref="RequestStop"/>) for the first.
    /// Several readers may share the descriptor: each message goes to exactly one of them. The same page can be
    /// reported more than once: a faulting thread whose wait is interrupted by a signal (the runtime's GC sends
    /// them) retries its access and faults again, so resolutions must accept <see cref="UserfaultFillStatus.PageExists"/>.
    /// </summary>
    public UserfaultReadStatus Read(Span<UserfaultMessage> messages, int timeoutMilliseconds, out int count)
    {
        count = 0;
        if (messages.IsEmpty)
            throw new ArgumentException("room for at least one message is needed", nameof(messages));
        var deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        var fds = stackalloc NativeLibc.PollFd[3];
        fixed (UserfaultMessage* buffer = messages)
        {
            // A busy reader finds messages waiting: one non-blocking read, no poll.
            var pending = NativeLibc.read(fd.Fd, buffer, (nuint)(messages.Length * sizeof(UserfaultMessage)));
            if (pending > 0)
            {
                count = (int)(pending / sizeof(UserfaultMessage));
                return UserfaultReadStatus.Messages;
            }
            while (true)
            {
                var remaining = timeoutMilliseconds < 0 ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
                fds[0] = new NativeLibc.PollFd { Fd = fd.Fd, Events = NativeLibc.POLLIN };
                fds[1] = new NativeLibc.PollFd { Fd = stop.Fd, Events = NativeLibc.POLLIN };
                fds[2] = new NativeLibc.PollFd { Fd = interrupt.Fd, Events = NativeLibc.POLLIN };
                var ready = NativeLibc.poll(fds, 3, remaining);
                if (ready < 0)
                {
                    if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == NativeLibc.EINTR)
                        continue;
                    throw LinuxError.Last("poll of the userfaultfd");
                }
                if ((fds[1].ReturnedEvents & NativeLibc.POLLIN) != 0)
                    return UserfaultReadStatus.Stopped;
                if ((fds[2].ReturnedEvents & NativeLibc.POLLIN) != 0)
                {
                    ulong signals;
                    NativeLibc.read(interrupt.Fd, &signals, sizeof(ulong));
                    return UserfaultReadStatus.Interrupted;
                }
                if ((fds[0].ReturnedEvents & (NativeLibc.POLLERR | NativeLibc.POLLNVAL)) != 0)
                    throw new LinuxError("poll of the userfaultfd (POLLERR/POLLNVAL: closed or not initialised)", NativeLibc.EINVAL);
                if ((fds[0].ReturnedEvents & NativeLibc.POLLIN) != 0)
                {
                    var bytes = NativeLibc.read(fd.Fd, buffer, (nuint)(messages.Length * sizeof(UserfaultMessage)));
                    if (bytes > 0)
                    {
                        count = (int)(bytes / sizeof(UserfaultMessage));
                        return UserfaultReadStatus.Messages;
                    }
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (bytes < 0 && errno != NativeLibc.EAGAIN && errno != NativeLibc.EINTR)
                        throw new LinuxError("read of the userfaultfd", errno);
                    // Another reader took it: wait again for what is left of the timeout.
                }
                if (ready == 0 || (timeoutMilliseconds >= 0 && Environment.TickCount64 >= deadline))
                    return UserfaultReadStatus.TimedOut;
            }
        }
    }

    /// <summary>Reads one message (see <see cref="Read"/>).</summary>
    public UserfaultReadStatus ReadOne(out UserfaultMessage message, int timeoutMilliseconds)
    {
        message = default;
        return Read(new Span<UserfaultMessage>(ref message), timeoutMilliseconds, out _);
    }

    /// <summary>Makes every current and future <see cref="Read"/> return <see cref="UserfaultReadStatus.Stopped"/>.</summary>
    public void RequestStop()
    {
        ulong one = 1;
        if (NativeLibc.write(stop.Fd, &one, sizeof(ulong)) < 0
            && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != NativeLibc.EAGAIN)
            throw LinuxError.Last("write of the userfaultfd reader stop eventfd");
    }

    /// <summary>Makes the current or next <see cref="Read"/> return <see cref="UserfaultReadStatus.Interrupted"/> once.</summary>
    public void Interrupt()
    {
        ulong one = 1;
        if (NativeLibc.write(interrupt.Fd, &one, sizeof(ulong)) < 0
            && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != NativeLibc.EAGAIN)
            throw LinuxError.Last("write of the userfaultfd reader interrupt eventfd");
    }

    /// Stop readers (RequestStop) and let them return before disposing.
    public void Dispose()
    {
        fd.Dispose();
        stop.Dispose();
        interrupt.Dispose();
    }
}
