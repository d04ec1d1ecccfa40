using SsiHv.Interop.Rdma;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// A peer path's thread on its completion queue: completes each fetch's entry, breaks the path on an error
/// completion or a READ past its deadline. Busy-polls while READs are outstanding (a completion arrives within
/// microseconds), sleeps otherwise; checks deadlines about every millisecond.
/// </summary>
sealed class RdmaCompletionPoller
{
    const int Batch = 16;

    readonly CompletionQueueHandle cq;
    readonly RdmaReadStaging staging;
    readonly TimeSpan requestTimeout;
    readonly Action<string> breakPath;
    readonly Thread thread;
    /// Wakes the idle poller when READs are posted.
    readonly SemaphoreSlim wake = new(0);
    int outstanding;
    int stopping;

    public RdmaCompletionPoller(CompletionQueueHandle cq, RdmaReadStaging staging, TimeSpan requestTimeout, Action<string> breakPath, string threadName)
    {
        this.cq = cq;
        this.staging = staging;
        this.requestTimeout = requestTimeout;
        this.breakPath = breakPath;
        thread = new Thread(Poll) { IsBackground = true, Name = threadName };
        thread.Start();
    }

    /// Before posting a READ chain: counted, so the poller busy-polls until its completion.
    public void Expect() => Interlocked.Increment(ref outstanding);

    /// The chain counted by <see cref="Expect"/> was not posted after all.
    public void Unexpect() => Interlocked.Decrement(ref outstanding);

    /// The chain counted by <see cref="Expect"/> is posted: the first outstanding one wakes the sleeping poller.
    public void Posted()
    {
        if (Volatile.Read(ref outstanding) == 1)
            wake.Release();
    }

    /// The poller finishes the round it is in, then stops.
    public void Stop() => Volatile.Write(ref stopping, 1);

    public void Join(TimeSpan timeout)
    {
        wake.Release();
        thread.Join(timeout);
    }

    unsafe void Poll()
    {
        var completions = stackalloc IbvWc[Batch];
        var nextDeadlineCheck = Environment.TickCount64;
        var held = false;
        cq.DangerousAddRef(ref held); // destroyed only after this loop ends
        try
        {
            PollUntilStopped(completions, ref nextDeadlineCheck);
        }
        finally
        {
            cq.DangerousRelease();
        }
    }

    unsafe void PollUntilStopped(IbvWc* completions, ref long nextDeadlineCheck)
    {
        var entries = staging.Entries;
        while (Volatile.Read(ref stopping) == 0)
        {
            if (Volatile.Read(ref outstanding) == 0)
            {
                wake.Wait(100);
                continue;
            }
            var count = VerbsDataPath.PollCq(cq.DangerousGetHandle(), Batch, completions);
            if (count < 0)
            {
                breakPath($"ibv_poll_cq failed: {count}");
                return;
            }
            for (var i = 0; i < count; i++)
            {
                var wc = completions[i];
                if (wc.WorkRequestId >= (ulong)entries.Length)
                    continue;
                if (wc.Status != IbvWcStatus.Success)
                    breakPath($"RDMA READ completion status {(int)wc.Status} (vendor error 0x{wc.VendorError:X})");
                var entry = entries[wc.WorkRequestId];
                if (entry.TryComplete(wc.Status))
                {
                    Interlocked.Decrement(ref outstanding);
                    staging.Leave(entry);
                }
            }
            if (count == 0)
            {
                var now = Environment.TickCount64;
                if (now >= nextDeadlineCheck)
                {
                    nextDeadlineCheck = now + 1;
                    foreach (var entry in entries)
                        if (entry.IsArmed && entry.DeadlineTicks <= now)
                            breakPath($"no RDMA READ completion within the request timeout ({requestTimeout.TotalSeconds:0.###} s)");
                }
                Thread.SpinWait(20);
            }
        }
    }
}
