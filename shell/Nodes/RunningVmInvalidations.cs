using SsiHv.Core.Paging;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Transport;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The transport's invalidation service on a node host: peers' Invalidate requests go to the pager of the VM
/// running here. The transport outlives VMs, so <see cref="NodeEffects"/> attaches each VM's pager while it runs.
/// </summary>
public sealed class RunningVmInvalidations : IInvalidationService
{
    UserfaultPager? pager;

    public void Attach(UserfaultPager running) => Volatile.Write(ref pager, running);

    /// Only `ended`: a late detach must not take the next VM's pager away.
    public void Detach(UserfaultPager ended) => Interlocked.CompareExchange(ref pager, null, ended);

    /// Without a VM (a memory node, or a boot node between runs) this node holds no guest page, so there is no
    /// copy to drop and the invalidation is acknowledged at once; nor is there guest memory to check the page
    /// number against.
    public Task InvalidateAsync(ulong page, int requester) =>
        Volatile.Read(ref pager) is { } running
            ? running.InvalidateAsync(PageNumber.NewPageNumber(page), requester)
            : HoldsNoCopies.Instance.InvalidateAsync(page, requester);
}
