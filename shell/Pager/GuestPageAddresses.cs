using SsiHv.Core.Paging;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// Translation between guest pages and where this process maps them: the userfaultfd reports host addresses,
/// the core speaks guest page numbers. Covers the registered (node) RAM regions only.
/// </summary>
public sealed class GuestPageAddresses
{
    /// The registered (node) RAM regions, as an array so that address translation allocates nothing.
    readonly PagedRegion[] paged;
    const ulong PageSize = 4096;

    readonly record struct PagedRegion(nint Host, ulong Guest, ulong Length);

    public GuestPageAddresses(GuestMemory memory) =>
        paged = memory.Regions.Where(r => r.Node is not null).Select(r => new PagedRegion(r.Mapping.Address, r.GuestAddress, r.Mapping.Length)).ToArray();

    public PageNumber GuestPageOf(nint hostAddress)
    {
        foreach (var region in paged)
            if (hostAddress >= region.Host && (ulong)(hostAddress - region.Host) < region.Length)
                return Page.ofAddress(GuestAddress.NewGuestAddress(region.Guest + (ulong)(hostAddress - region.Host)));
        throw new InvalidOperationException($"pager: fault at host address 0x{hostAddress:X} outside guest RAM");
    }

    public nint HostAddressOf(PageNumber page)
    {
        var address = Page.address(page).Value;
        foreach (var region in paged)
            if (address >= region.Guest && address - region.Guest < region.Length)
                return region.Host + (nint)(address - region.Guest);
        throw new InvalidOperationException($"pager: page 0x{page.Value:X} is not guest RAM");
    }

    /// Whether `page` is registered guest RAM: a page number from the network is checked with this before use.
    /// Compared in pages, since the address of a page number near 2^64 would wrap around.
    public bool Contains(PageNumber page)
    {
        foreach (var region in paged)
        {
            var first = region.Guest / PageSize;
            if (page.Value >= first && page.Value - first < region.Length / PageSize)
                return true;
        }
        return false;
    }
}
