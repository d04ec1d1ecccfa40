using System.Threading.Tasks.Sources;
using SsiHv.Interop.Rdma;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// One staging place of a peer path: 4096 bytes for the page and 16 for the two version words, registered with
/// the device, and the three chained READ work requests that fill them. The completion poller and the waiting
/// fetch both hold it (<see cref="Release"/>): whichever lets go last returns it, so the device never writes into
/// a place that was handed to another fetch, even when the fetch gave up (cancelled) before its completion.
/// Continuations run inline on the poller thread, as the TCP transport's do on its receive thread.
/// </summary>
public sealed class RdmaReadEntry(int index) : IValueTaskSource
{
    ManualResetValueTaskSourceCore<bool> completion = new() { RunContinuationsAsynchronously = false };
    int holders;
    int armed;

    public readonly int Index = index;
    public IbvWcStatus Status;
    public long DeadlineTicks;

    public short Version => completion.Version;
    public bool IsArmed => Volatile.Read(ref armed) != 0;

    /// Before posting: the poller and the fetch both hold it now.
    public void Arm(long deadlineTicks)
    {
        completion.Reset();
        Status = IbvWcStatus.Success;
        DeadlineTicks = deadlineTicks;
        Volatile.Write(ref holders, 2);
        Volatile.Write(ref armed, 1);
    }

    /// The first completion of this posting (a failed READ can bring one per work request): true once.
    public bool TryComplete(IbvWcStatus status)
    {
        if (Interlocked.CompareExchange(ref armed, 0, 1) != 1)
            return false;
        Status = status;
        completion.SetResult(true);
        return true;
    }

    /// True for the holder that let go last: it returns the entry to the free places.
    public bool Release() => Interlocked.Decrement(ref holders) == 0;

    public void GetResult(short token) => completion.GetResult(token);
    public ValueTaskSourceStatus GetStatus(short token) => completion.GetStatus(token);
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        completion.OnCompleted(continuation, state, token, flags);
}
