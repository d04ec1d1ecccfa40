using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// A peer path's staging places and their work requests: per place a page and two version words in one
/// registered buffer, and three chained READ work requests (version, page, version: core RdmaRead) that fill
/// them. A fetch waits for a free place, takes it, and gives it back with the completion poller
/// (<see cref="RdmaReadEntry.Release"/>).
/// </summary>
sealed unsafe class RdmaReadStaging : IDisposable
{
    public const int PageLength = WireFrame.PageLength;
    /// Per place: the version before and the version after.
    public const int VersionsLength = 16;
    const int ReadsPerFetch = 3;

    /// Pinned arrays rather than native memory: they cannot be freed while a racing fetch still writes a work
    /// request or the adapter's last READ lands (the GC keeps them while the path is reachable).
    readonly byte[] staging;
    readonly nint stagingAddress;
    readonly MemoryRegionHandle region;
    readonly IbvSendWr[] requestArray;
    readonly IbvSge[] elementArray;
    readonly IbvSendWr* requests;
    readonly IbvSge* elements;
    readonly Stack<int> freeEntries;
    readonly SemaphoreSlim places;

    public RdmaReadStaging(RdmaDevice device, int depth)
    {
        Entries = new RdmaReadEntry[depth];
        for (var i = 0; i < depth; i++)
            Entries[i] = new RdmaReadEntry(i);
        freeEntries = new Stack<int>(Enumerable.Range(0, depth).Reverse());
        places = new SemaphoreSlim(depth, depth);
        requestArray = GC.AllocateArray<IbvSendWr>(depth * ReadsPerFetch, pinned: true);
        elementArray = GC.AllocateArray<IbvSge>(depth * ReadsPerFetch, pinned: true);
        requests = (IbvSendWr*)Marshal.UnsafeAddrOfPinnedArrayElement(requestArray, 0);
        elements = (IbvSge*)Marshal.UnsafeAddrOfPinnedArrayElement(elementArray, 0);
        staging = GC.AllocateArray<byte>(depth * (PageLength + VersionsLength), pinned: true);
        stagingAddress = Marshal.UnsafeAddrOfPinnedArrayElement(staging, 0);
        region = device.Register(stagingAddress, (ulong)staging.Length, IbvAccess.LocalWrite);
    }

    public RdmaReadEntry[] Entries { get; }

    /// Work requests the completion queue and the queue pair must have room for.
    public int MaxWorkRequests => Entries.Length * ReadsPerFetch;

    /// Without waiting when a place is free; false when none came free within the timeout.
    public ValueTask<bool> WaitForPlaceAsync(TimeSpan timeout, CancellationToken cancellation) =>
        places.Wait(0) ? ValueTask.FromResult(true) : new ValueTask<bool>(places.WaitAsync(timeout, cancellation));

    /// After <see cref="WaitForPlaceAsync"/> said true.
    public RdmaReadEntry Take()
    {
        lock (freeEntries)
            return Entries[freeEntries.Pop()];
    }

    /// A holder lets go; the last one returns the place.
    public void Leave(RdmaReadEntry entry)
    {
        if (entry.Release())
            Return(entry);
    }

    /// For a place that was never posted: nobody else holds it.
    public void Return(RdmaReadEntry entry)
    {
        lock (freeEntries)
            freeEntries.Push(entry.Index);
        places.Release();
    }

    public ReadOnlySpan<byte> PageOf(RdmaReadEntry entry) => staging.AsSpan(entry.Index * PageLength, PageLength);

    /// The version words read before and after the page.
    public (ulong Before, ulong After) VersionsOf(RdmaReadEntry entry)
    {
        ReadOnlySpan<byte> read = staging.AsSpan(Entries.Length * PageLength + entry.Index * VersionsLength, VersionsLength);
        return (BinaryPrimitives.ReadUInt64LittleEndian(read), BinaryPrimitives.ReadUInt64LittleEndian(read[8..]));
    }

    /// The entry's chain, ready to post: version, page (fenced), version (fenced, signalled), so each READ starts
    /// only after the previous completed.
    public IbvSendWr* Describe(RdmaReadEntry entry, RdmaRegion pages, ulong pageOffset, RdmaRegion versions, ulong versionOffset)
    {
        var first = requests + entry.Index * ReadsPerFetch;
        var sge = elements + entry.Index * ReadsPerFetch;
        var versionsPlace = (ulong)stagingAddress + (ulong)Entries.Length * PageLength + (ulong)entry.Index * VersionsLength;
        var lkey = region.LocalKey;
        sge[0] = new IbvSge { Address = versionsPlace, Length = 8, LocalKey = lkey };
        sge[1] = new IbvSge { Address = (ulong)stagingAddress + (ulong)entry.Index * PageLength, Length = PageLength, LocalKey = lkey };
        sge[2] = new IbvSge { Address = versionsPlace + 8, Length = 8, LocalKey = lkey };
        var remote = (Address: versions.Address + versionOffset, Key: versions.Key);
        Fill(first, entry.Index, &sge[0], remote.Address, remote.Key, IbvSendFlags.None, first + 1);
        Fill(first + 1, entry.Index, &sge[1], pages.Address + pageOffset, pages.Key, IbvSendFlags.Fence, first + 2);
        Fill(first + 2, entry.Index, &sge[2], remote.Address, remote.Key, IbvSendFlags.Fence | IbvSendFlags.Signaled, null);
        return first;
    }

    static void Fill(IbvSendWr* wr, int index, IbvSge* sge, ulong remoteAddress, uint rkey, IbvSendFlags flags, IbvSendWr* next)
    {
        *wr = default;
        wr->WorkRequestId = (ulong)index;
        wr->Next = next;
        wr->ScatterGatherList = sge;
        wr->ScatterGatherCount = 1;
        wr->Opcode = IbvWrOpcode.RdmaRead;
        wr->SendFlags = flags;
        wr->RemoteAddress = remoteAddress;
        wr->RemoteKey = rkey;
    }

    /// Only after the queue pair is destroyed: no READ can land here any more.
    public void Dispose() => region.Dispose();
}
