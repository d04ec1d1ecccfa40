using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;

namespace SsiHv.Shell.Pager;

/// <summary>
/// The buffers of the page-store transfers in flight and how their completions reach the core: at once when the
/// store answered synchronously, else from the completing thread (inline when no step runs) or through the
/// event channel.
/// </summary>
public sealed partial class UserfaultPager
{
    /// Buffers of fetches in flight or arrived (until Install or DiscardFetched), of write-backs and of home moves in flight, by
    /// page (the core has at most one transfer per page in flight). Touched under the step lock only.
    readonly Dictionary<PageNumber, byte[]> fetched = [];
    readonly Dictionary<PageNumber, byte[]> outgoing = [];
    readonly Dictionary<PageNumber, byte[]> moving = [];

    /// Completions of synchronous (local-store) transfers, fed to `step` right after the current step.
    readonly Queue<CorePager.PagerEvent> completions = new();

    /// Page buffers (pinned: the kernel and the transports read and write them) returned by completed transfers,
    /// rented by the next ones.
    readonly Stack<byte[]> pageBuffers = new();

    byte[] RentBuffer() => pageBuffers.Count > 0 ? pageBuffers.Pop() : GC.AllocateArray<byte>((int)PageSize, pinned: true);

    byte[] TakeFetched(PageNumber page) => fetched.Remove(page, out var bytes)
        ? bytes
        : throw new InvalidOperationException($"pager: Install of page 0x{page.Value:X} without fetched bytes");

    /// Frees the buffer of a write-back or home move once its completion has been stepped.
    void ReleaseCompletedBuffer(CorePager.PagerEvent completed)
    {
        switch (completed)
        {
            case CorePager.PagerEvent.WriteBackDone done when outgoing.Remove(done.Item, out var sent):
                pageBuffers.Push(sent);
                break;
            case CorePager.PagerEvent.MovePageDone done when moving.Remove(done.Item, out var moved):
                pageBuffers.Push(moved);
                break;
        }
    }

    static string FailureOf(string what, int node, PageNumber page, Exception error) =>
        $"the page store of home node {node} failed to {what} page 0x{page.Value:X}: {error.Message} (the VM cannot continue without that page's bytes)";

    /// Steps the completion of a store transfer that did not finish at once on the thread that completed it
    /// (a reply then wakes the faulting vCPU without waking the pager thread: one thread hand-off less per
    /// round trip, as the C reference handler that blocks in recv itself), or, when another step is running,
    /// posts it through the channel; fails the pager if the transfer failed. The transfer's buffer stays owned
    /// by the pager until the completion is stepped. Never blocks on the step lock: the completing thread is a
    /// transport receive thread, which must keep reading replies.
    async Task CompleteLater(ValueTask transfer, CorePager.PagerEvent done, string what, int node, PageNumber page)
    {
        try
        {
            await transfer.ConfigureAwait(false);
        }
        catch (Exception error)
        {
            Fail(FailureOf(what, node, page, error));
            return;
        }
        var inline = TryStepInline(done);
        Metrics.CountCompletion(inline);
        if (inline)
            return;
        requests.Writer.TryWrite(done);
        try
        {
            uffd.Interrupt();
        }
        catch (ObjectDisposedException)
        {
            // Stopped and disposed while the transfer was in flight: nothing waits for it.
        }
    }

    /// True when `done` was stepped on this thread: the step lock was free, no step is running on this thread,
    /// and the pager still serves. A step that throws stops the pager (as it would on the pager thread).
    bool TryStepInline(CorePager.PagerEvent done)
    {
        if (!Monitor.TryEnter(stepLock))
            return false;
        try
        {
            if (stepping || stopped)
                return false;
            if (FailureReason is not null)
                return true; // nothing is stepped any more; the pager thread reports the failure
            Handle(done);
        }
        catch (Exception error)
        {
            Fail($"the pager failed while completing a transfer: {error.Message}");
        }
        finally
        {
            Monitor.Exit(stepLock);
        }
        return true;
    }

    /// Completes a started store transfer inline (no allocation) when the store answered at once, else when
    /// it completes.
    void Complete(ValueTask transfer, CorePager.PagerEvent done, string what, int node, PageNumber page)
    {
        if (transfer.IsCompletedSuccessfully)
        {
            transfer.GetAwaiter().GetResult(); // a pooled IValueTaskSource must be consumed once
            completions.Enqueue(done);
        }
        else
            _ = CompleteLater(transfer, done, what, node, page);
    }
}
