using SsiHv.Core.Paging;
using SsiHv.Core.Topology;
using CorePager = SsiHv.Core.Paging.Pager;

namespace SsiHv.Shell.Pager;

/// <summary>
/// Remote invalidations (docs/pager.md, "Invalidation"): another node is about to write a page, so this node's
/// copy must go. The request becomes a <c>RemoteInvalidate</c> event in the pager's channel; its caller waits
/// until the core emits the matching <c>AcknowledgeInvalidate</c> (at once for a clean or absent copy, after the
/// write-back home for a dirty one).
/// </summary>
public sealed partial class UserfaultPager
{
    /// Callers of InvalidateAsync waiting for their acknowledgement, by page and requester, oldest first: the
    /// core acknowledges each RemoteInvalidate exactly once, and a requester's acknowledgements of one page in
    /// the order they arrived. Filled by transport threads, emptied under the step lock; guarded by itself.
    readonly Dictionary<(PageNumber Page, int Requester), Queue<TaskCompletionSource>> invalidations = [];

    /// <summary>
    /// Drops this node's copy of <paramref name="page"/> because node <paramref name="requester"/> is about to
    /// write it. Completes (on a thread-pool thread) once the core acknowledged: no copy is left in guest memory
    /// here, and a dirty one was written to the page's home first. Faults when the page is not guest RAM of
    /// this VM (the number came from the network) or the pager stopped or failed before the acknowledgement.
    /// </summary>
    public Task InvalidateAsync(PageNumber page, int requester)
    {
        if (!addresses.Contains(page))
            return Task.FromException(new ArgumentException($"page 0x{page.Value:X} is not guest RAM of this VM"));
        if (FailureReason is { } reason)
            return Task.FromException(new PagerFailedException(reason));
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (invalidations)
        {
            if (!invalidations.TryGetValue((page, requester), out var waiting))
                invalidations[(page, requester)] = waiting = new Queue<TaskCompletionSource>();
            waiting.Enqueue(acknowledged);
        }
        // Written after the caller is queued, so the acknowledgement always finds it. A completed channel means
        // Stop ran, which fails every queued caller (this one too, if Stop's sweep came first: TrySet is idempotent).
        if (!requests.Writer.TryWrite(CorePager.PagerEvent.NewRemoteInvalidate(page, NodeId.NewNodeId(requester))))
            acknowledged.TrySetException(new PagerFailedException($"the pager stopped before page 0x{page.Value:X} was invalidated"));
        else
        {
            try
            {
                uffd.Interrupt();
            }
            catch (ObjectDisposedException)
            {
                acknowledged.TrySetException(new PagerFailedException($"the pager stopped before page 0x{page.Value:X} was invalidated"));
            }
        }
        return acknowledged.Task;
    }

    /// The core's AcknowledgeInvalidate: the oldest caller waiting for this page and requester is answered.
    void Acknowledge(PageNumber page, int requester)
    {
        TaskCompletionSource? oldest = null;
        lock (invalidations)
        {
            if (invalidations.TryGetValue((page, requester), out var waiting))
            {
                oldest = waiting.Dequeue();
                if (waiting.Count == 0)
                    invalidations.Remove((page, requester));
            }
        }
        oldest?.TrySetResult();
    }

    /// No acknowledgement comes after the pager stopped or failed: every caller still waiting is told why.
    void FailInvalidations(string reason)
    {
        List<TaskCompletionSource> waiting;
        lock (invalidations)
        {
            waiting = invalidations.Values.SelectMany(queue => queue).ToList();
            invalidations.Clear();
        }
        foreach (var caller in waiting)
            caller.TrySetException(new PagerFailedException(reason));
    }
}
