using SsiHv.Interop.Memory;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Pager;

/// <summary>
/// A page store on this host: one private anonymous mapping per guest RAM region, page for page. The
/// mappings are MAP_NORESERVE, so only pages that were written back cost host memory. Every home node's pages
/// live here (one host plays all homes until the transport exists).
/// </summary>
public sealed class LocalPageStore : IPageStore, IDisposable
{
    readonly List<(ulong First, ulong Count, AnonymousMapping Backing)> regions = [];

    public LocalPageStore(GuestMemory memory)
    {
        foreach (var region in memory.Regions.Where(r => r.Node is not null))
            regions.Add((region.GuestAddress / PageSize, region.Mapping.Length / PageSize, new AnonymousMapping(region.Mapping.Length)));
    }

    const ulong PageSize = 4096;

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        Slot(page).CopyTo(destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source)
    {
        source.Span.CopyTo(Slot(page));
        return ValueTask.CompletedTask;
    }

    Span<byte> Slot(ulong page)
    {
        foreach (var (first, count, backing) in regions)
            if (page >= first && page < first + count)
                return backing.Span((page - first) * PageSize, (int)PageSize);
        throw new ArgumentOutOfRangeException(nameof(page), $"page 0x{page:X} is not guest RAM");
    }

    public void Dispose()
    {
        foreach (var (_, _, backing) in regions)
            backing.Dispose();
    }
}
