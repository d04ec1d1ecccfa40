using System.Runtime.InteropServices;
using SsiHv.Shell.Nodes;
using Xunit;

namespace SsiHv.Tests.Nodes;

/// <summary>The page store a node host serves to its peers, on a real anonymous mapping.</summary>
public sealed class HomePageStoreTests
{
    static byte[] PageOf(byte value)
    {
        var page = new byte[4096];
        Array.Fill(page, value);
        page[0] = (byte)~value; // not uniform, so a copy of the wrong slot or offset shows
        return page;
    }

    [Fact]
    public void A_page_never_stored_reads_as_zeroes()
    {
        using var store = new HomePageStore(node: 1, storeMiB: 1);
        var read = PageOf(0xAB);
        store.ReadPage(0x40000, read);
        Assert.All(read, b => Assert.Equal(0, b));
        Assert.Equal(0, store.PagesStored);
    }

    [Fact]
    public void Each_page_reads_back_its_newest_bytes()
    {
        using var store = new HomePageStore(node: 1, storeMiB: 1);
        for (ulong page = 0; page < 256; page++)
            Assert.True(store.TryWritePage(0x40000 + page, PageOf((byte)page), out _));
        Assert.True(store.TryWritePage(0x40007, PageOf(0xEE), out _)); // overwrite keeps its slot
        for (ulong page = 0; page < 256; page++)
        {
            var read = new byte[4096];
            store.ReadPage(0x40000 + page, read);
            Assert.Equal(PageOf(page == 7 ? (byte)0xEE : (byte)page), read);
        }
        Assert.Equal(256, store.PagesStored);
    }

    [Fact]
    public void A_node_refuses_more_pages_than_its_memory_and_says_why()
    {
        using var store = new HomePageStore(node: 2, storeMiB: 1); // 256 pages
        for (ulong page = 0; page < 256; page++)
            Assert.True(store.TryWritePage(page, PageOf(1), out _));
        Assert.False(store.TryWritePage(256, PageOf(2), out var refusal));
        Assert.Contains("node 2 stores at most 256 pages", refusal);
        Assert.Contains("0x100", refusal);
        Assert.False(store.TryWritePage(5, new byte[100], out var wrongSize));
        Assert.Contains("received 100", wrongSize);
    }

    [Fact]
    public void Its_registered_memory_shows_each_page_in_a_fixed_slot_under_an_even_version_that_grows_by_two_per_store()
    {
        using var store = new HomePageStore(node: 1, storeMiB: 1);
        Assert.Equal(-1, store.SlotOf(0x40001));
        Assert.True(store.TryWritePage(0x40000, PageOf(1), out _));
        Assert.True(store.TryWritePage(0x40001, PageOf(2), out _));
        var slot = store.SlotOf(0x40001);
        Assert.InRange(slot, 0, store.Capacity - 1);
        Assert.NotEqual(store.SlotOf(0x40000), slot);
        Assert.Equal(store.Capacity * 4096, (long)store.PagesLength);
        Assert.True(store.VersionsLength >= (ulong)store.Capacity * 8);
        long Version() => Marshal.ReadInt64(store.VersionsAddress + (nint)(slot * 8));
        Assert.Equal(2, Version());

        Assert.True(store.TryWritePage(0x40001, PageOf(3), out _));
        Assert.Equal(slot, store.SlotOf(0x40001)); // an overwrite keeps the slot a peer may have cached
        Assert.Equal(4, Version());
        // What an RDMA READ of the slot sees: the newest bytes, in place.
        var inPlace = new byte[4096];
        Marshal.Copy(store.PagesAddress + (nint)(slot * 4096), inPlace, 0, 4096);
        Assert.Equal(PageOf(3), inPlace);
    }
}
