using SsiHv.Interop.Memory;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// A page store on this host that plays every home node: per home node, one private anonymous mapping per guest
/// RAM region, page for page, created on the home's first write. The mappings are MAP_NORESERVE, so only pages
/// that were written back cost host memory. Homes are kept apart (a page read from node N is what was last
/// written to node N, zeroes if nothing was) exactly as separate machines would keep them: a pager that fetched
/// from the wrong home, or moved a home's pages incompletely, reads wrong bytes here instead of passing by
/// accident. Completes synchronously. Safe for one writer and readers of other pages at once (the pager has at
/// most one transfer per page in flight).
/// </summary>
public sealed class LocalPageStore : IPageStore, IDisposable
{
    const ulong PageSize = 4096;

    readonly (ulong First, ulong Count)[] regions;
    readonly Dictionary<int, AnonymousMapping[]> homes = [];

    public LocalPageStore(GuestMemory memory)
    {
        regions = memory.Regions.Where(r => r.Node is not null)
            .Select(r => (r.GuestAddress / PageSize, r.Mapping.Length / PageSize))
            .ToArray();
    }

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        var (region, offset) = Locate(page);
        AnonymousMapping[]? backing;
        lock (homes)
            homes.TryGetValue(home, out backing);
        if (backing is null)
            destination.Span[..(int)PageSize].Clear(); // this home never stored a page
        else
            backing[region].Span(offset, (int)PageSize).CopyTo(destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source)
    {
        var (region, offset) = Locate(page);
        AnonymousMapping[] backing;
        lock (homes)
            if (!homes.TryGetValue(home, out backing!))
                homes[home] = backing = regions.Select(r => new AnonymousMapping(r.Count * PageSize)).ToArray();
        source.Span[..(int)PageSize].CopyTo(backing[region].Span(offset, (int)PageSize));
        return ValueTask.CompletedTask;
    }

    (int Region, ulong Offset) Locate(ulong page)
    {
        for (var i = 0; i < regions.Length; i++)
            if (page >= regions[i].First && page < regions[i].First + regions[i].Count)
                return (i, (page - regions[i].First) * PageSize);
        throw new ArgumentOutOfRangeException(nameof(page), $"page 0x{page:X} is not guest RAM");
    }

    public void Dispose()
    {
        lock (homes)
        {
            foreach (var backing in homes.Values)
                foreach (var mapping in backing)
                    mapping.Dispose();
            homes.Clear();
        }
    }
}
