using System.Diagnostics;
using SsiHv.Core.Paging;
using CorePager = SsiHv.Core.Paging.Pager;
using SsiHv.Interop.Memory;
using SsiHv.Interop.Userfault;

namespace SsiHv.Shell.Pager;

/// <summary>
/// Performing the core's actions: each <see cref="CorePager.PagerAction"/> as the syscall or page-store transfer it
/// names (docs/pager.md says why each is safe), a map followed by the wake of its page as one waking ioctl.
/// </summary>
public sealed partial class UserfaultPager
{
    readonly byte[] zeroPage = GC.AllocateArray<byte>((int)PageSize, pinned: true);

    /// Performs a ZeroFill / Install / Unprotect immediately followed by a Wake of the same page as one waking
    /// ioctl (docs/pager.md allows it). False when the pair cannot be fused.
    bool PerformWaking(CorePager.PagerAction action, CorePager.PagerAction.Wake wake)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero when zero.Item1.Equals(wake.Item1):
                Fill(zero.Item1, zero.Item2, zeroPage, wake: true);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Install install when install.Item1.Equals(wake.Item1):
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: true);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.Unprotect unprotect when unprotect.Item.Equals(wake.Item1):
                uffd.WriteProtect(addresses.HostAddressOf(unprotect.Item), PageSize, protect: false);
                break;
            default:
                return false;
        }
        RecordWakes(wake.Item2);
        return true;
    }

    /// A home move reads the leaving home's copy and writes the same bytes to the new home (an exception
    /// thrown by either store call faults the returned task).
    async ValueTask MoveAsync(PageNumber page, int source, int target, byte[] buffer)
    {
        await store.ReadAsync(source, page.Value, buffer).ConfigureAwait(false);
        await store.WriteAsync(target, page.Value, buffer).ConfigureAwait(false);
    }

    void Perform(CorePager.PagerAction action)
    {
        switch (action)
        {
            case CorePager.PagerAction.ZeroFill zero:
                Fill(zero.Item1, zero.Item2, zeroPage, wake: false);
                Metrics.CountZeroFill();
                break;
            case CorePager.PagerAction.Fetch fetch:
                // The core frees every fetched buffer explicitly (Install or DiscardFetched): bytes that arrived
                // for a page still waiting for a frame are kept, not taken for stale.
                if (fetched.ContainsKey(fetch.Item1))
                    throw new InvalidOperationException($"pager: Fetch of page 0x{fetch.Item1.Value:X} whose fetched bytes were neither installed nor discarded");
                var buffer = fetched[fetch.Item1] = RentBuffer();
                Metrics.CountFetch();
                ValueTask read;
                try
                {
                    read = store.ReadAsync(fetch.from.Value, fetch.Item1.Value, buffer);
                }
                catch (Exception error) // a store that throws instead of returning a faulted task failed too
                {
                    read = ValueTask.FromException(error);
                }
                Complete(read, CorePager.PagerEvent.NewFetchDone(fetch.Item1), "read", fetch.from.Value, fetch.Item1);
                break;
            case CorePager.PagerAction.Install install:
                var bytes = TakeFetched(install.Item1);
                Fill(install.Item1, install.Item2, bytes, wake: false);
                pageBuffers.Push(bytes);
                Metrics.CountInstall();
                break;
            case CorePager.PagerAction.DiscardFetched discard:
                pageBuffers.Push(TakeFetched(discard.Item));
                break;
            case CorePager.PagerAction.WriteProtect protect:
                uffd.WriteProtect(addresses.HostAddressOf(protect.Item), PageSize, protect: true);
                break;
            case CorePager.PagerAction.Unprotect unprotect:
                uffd.WriteProtect(addresses.HostAddressOf(unprotect.Item), PageSize, protect: false, dontWake: true);
                break;
            case CorePager.PagerAction.CopyOut copyOut:
                // Through memmove, never a managed copy: guest RAM is uffd-registered (see NativeCopy).
                var bytesOut = RentBuffer();
                NativeCopy.FromMemory(bytesOut, addresses.HostAddressOf(copyOut.Item1));
                outgoing[copyOut.Item1] = bytesOut;
                Metrics.CountWriteBack();
                ValueTask write;
                try
                {
                    write = store.WriteAsync(copyOut.toNode.Value, copyOut.Item1.Value, bytesOut);
                }
                catch (Exception error)
                {
                    write = ValueTask.FromException(error);
                }
                Complete(write, CorePager.PagerEvent.NewWriteBackDone(copyOut.Item1), "write", copyOut.toNode.Value, copyOut.Item1);
                break;
            case CorePager.PagerAction.MovePage move:
                var bytesMoved = RentBuffer();
                moving[move.Item1] = bytesMoved;
                Metrics.CountMove();
                Complete(MoveAsync(move.Item1, move.from.Value, move.toNode.Value, bytesMoved), CorePager.PagerEvent.NewMovePageDone(move.Item1),
                    $"move (to home node {move.toNode.Value})", move.from.Value, move.Item1);
                break;
            case CorePager.PagerAction.HomeMoved moved:
                if (homeMoves.TryRemove(moved.Item.Value, out var waiting))
                    waiting.TrySetResult();
                log($"pager: every page of home node {moved.Item} has moved; its store is no longer used");
                break;
            case CorePager.PagerAction.Drop drop:
                PageDiscard.DontNeed(addresses.HostAddressOf(drop.Item), PageSize);
                Metrics.CountDrop();
                break;
            case CorePager.PagerAction.Wake wake:
                uffd.Wake(addresses.HostAddressOf(wake.Item1), PageSize);
                RecordWakes(wake.Item2);
                break;
            case CorePager.PagerAction.AcknowledgeInvalidate acknowledge:
                Acknowledge(acknowledge.Item1, acknowledge.requester.Value);
                break;
            case CorePager.PagerAction.Report { Item: CorePager.PagerError.InvalidHomeMove invalid }:
                var text = CorePager.PagerErrorModule.text(invalid);
                if (homeMoves.TryRemove(invalid.source.Value, out var refused))
                    refused.TrySetException(new ArgumentException(text));
                log($"pager: {text}");
                break;
            case CorePager.PagerAction.Report report:
                Metrics.CountError();
                log($"pager: {CorePager.PagerErrorModule.text(report.Item)}");
                break;
        }
    }

    /// UFFDIO_COPY, with WP when the page must stay write-protected, and with DONTWAKE unless the Wake that
    /// follows was fused into it. A page that is already there (EEXIST) was installed by an earlier action for
    /// the same page: nothing lost, but the kernel woke nobody, so a fused wake is done explicitly.
    unsafe void Fill(PageNumber page, Protection protection, byte[] source, bool wake)
    {
        var mode = (wake ? UserfaultCopyMode.None : UserfaultCopyMode.DontWake)
            | (protection.IsWriteProtected ? UserfaultCopyMode.WriteProtect : UserfaultCopyMode.None);
        var address = addresses.HostAddressOf(page);
        fixed (byte* bytes = source)
        {
            var result = uffd.Copy(address, (nint)bytes, PageSize, mode);
            if (result.Status == UserfaultFillStatus.TryAgain)
                throw new InvalidOperationException($"pager: UFFDIO_COPY of page 0x{page.Value:X} returned EAGAIN (the mapping changed under it)");
            if (wake && result.Status == UserfaultFillStatus.PageExists)
                uffd.Wake(address, PageSize);
        }
    }

    void RecordWakes(Microsoft.FSharp.Collections.FSharpList<FaultId> faults)
    {
        var now = Stopwatch.GetTimestamp();
        for (var list = faults; !list.IsEmpty; list = list.Tail)
        {
            var started = faultStarted[(int)(list.Head.Value & (FaultClockSlots - 1))];
            Metrics.CountWake((long)Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
        }
    }
}
