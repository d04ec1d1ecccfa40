using System.Runtime.InteropServices;
using Xunit;

namespace SsiHv.Tests.Interop;

/// <summary>
/// A dedicated thread that touches memory (and so may block in a userfault) and records its kernel thread id,
/// what it saw, and whether it threw. Every wait on it is bounded.
/// </summary>
sealed class UserfaultTestThread
{
    public const int WaitMilliseconds = 10_000;

    readonly Thread thread;
    readonly ManualResetEventSlim started = new();
    int osThreadId;

    public Exception? Error { get; private set; }

    UserfaultTestThread(Action action, string name)
    {
        thread = new Thread(() =>
        {
            Volatile.Write(ref osThreadId, CurrentOsThreadId());
            started.Set();
            try
            {
                action();
            }
            catch (Exception e)
            {
                Error = e;
            }
        }) { IsBackground = true, Name = name };
    }

    public static UserfaultTestThread Start(string name, Action action)
    {
        var t = new UserfaultTestThread(action, name);
        t.thread.Start();
        Assert.True(t.started.Wait(WaitMilliseconds), $"{name} did not start");
        return t;
    }

    public int OsThreadId => Volatile.Read(ref osThreadId);

    public bool Join(int milliseconds = WaitMilliseconds) => thread.Join(milliseconds);

    public void AssertFinished(string what)
    {
        Assert.True(Join(), $"{thread.Name} still blocked after {WaitMilliseconds} ms: {what}");
        if (Error is not null)
            throw new Xunit.Sdk.XunitException($"{thread.Name} failed: {Error}");
    }

    /// The kernel tid (what uffd_msg.arg.pagefault.feat.ptid reports): /proc/thread-self -> "pid/task/tid".
    public static int CurrentOsThreadId() => int.Parse(Path.GetFileName(new FileInfo("/proc/thread-self").LinkTarget!));

    public static byte Read(nint address) => Marshal.ReadByte(address);

    public static void Write(nint address, byte value) => Marshal.WriteByte(address, value);
}
