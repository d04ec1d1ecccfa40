using System.Runtime.InteropServices;
using SsiHv.Interop.Memory;
using SsiHv.Shell.Transport;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The guest pages this node homes: what peers fetch and write back over the transport. Bytes live in one
/// MAP_NORESERVE anonymous mapping of the config's <c>storeMiB</c> (its memoryMiB, plus room for the pages of
/// drained nodes), so a stored page costs host memory only once written and a node never holds more than it
/// offered; a page gets a slot on its first store.
/// A page never stored reads as zeroes (its newest copy is the zero page). Served from several transport
/// threads at once, hence the lock (a slot lookup and a 4 KiB copy: short). Peers with RDMA read the slots
/// without the lock (<see cref="IRegisteredPageMemory"/>): each store brackets its copy with the slot's version
/// word going odd, then even, so such a reader can tell a torn page and read again.
/// </summary>
public sealed class HomePageStore : IPageService, IRegisteredPageMemory, IDisposable
{
    const int PageSize = 4096;
    readonly AnonymousMapping backing;
    readonly AnonymousMapping versions;
    readonly Dictionary<ulong, long> slots = [];
    readonly long capacity;
    readonly int node;
    readonly Lock gate = new();

    public HomePageStore(int node, long storeMiB)
    {
        this.node = node;
        capacity = storeMiB * 1024 * 1024 / PageSize;
        backing = new AnonymousMapping((ulong)Math.Max(1, capacity) * PageSize);
        versions = new AnonymousMapping((ulong)Math.Max(1, capacity) * sizeof(long));
    }

    public nint PagesAddress => backing.Address;
    public ulong PagesLength => backing.Length;
    public nint VersionsAddress => versions.Address;
    public ulong VersionsLength => versions.Length;

    public long SlotOf(ulong page)
    {
        lock (gate)
            return slots.TryGetValue(page, out var slot) ? slot : -1;
    }

    /// Pages that have been stored here at least once.
    public long PagesStored
    {
        get { lock (gate) return slots.Count; }
    }

    public long Capacity => capacity;

    public void ReadPage(ulong page, Span<byte> destination)
    {
        lock (gate)
        {
            if (slots.TryGetValue(page, out var slot))
                backing.Span((ulong)slot * PageSize, PageSize).CopyTo(destination);
            else
                destination[..PageSize].Clear();
        }
    }

    public bool TryWritePage(ulong page, ReadOnlySpan<byte> source, out string? refusal)
    {
        if (source.Length != PageSize)
        {
            refusal = $"node {node}: a page is {PageSize} bytes, received {source.Length}";
            return false;
        }
        lock (gate)
        {
            if (!slots.TryGetValue(page, out var slot))
            {
                if (slots.Count >= capacity)
                {
                    refusal = $"node {node} stores at most {capacity} pages (storeMiB) and all are in use; page 0x{page:X} was not stored";
                    return false;
                }
                slots[page] = slot = slots.Count;
            }
            ref var version = ref MemoryMarshal.Cast<byte, long>(versions.Span((ulong)slot * sizeof(long), sizeof(long)))[0];
            // Odd with a full fence, so no byte of the copy becomes visible before it; even with a release, so
            // none after it. An RDMA reader seeing the same even version on both sides of its page read saw no store.
            Interlocked.Increment(ref version);
            source.CopyTo(backing.Span((ulong)slot * PageSize, PageSize));
            Volatile.Write(ref version, version + 1);
        }
        refusal = null;
        return true;
    }

    /// The pages stored here, for drain and inspection.
    public ulong[] StoredPages()
    {
        lock (gate) return [.. slots.Keys];
    }

    public void Dispose()
    {
        backing.Dispose();
        versions.Dispose();
    }
}
