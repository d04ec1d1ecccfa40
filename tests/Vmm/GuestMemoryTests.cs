using SsiHv.Core.Acpi;
using SsiHv.Core.Memory;
using SsiHv.Core.Topology;
using SsiHv.Shell.Vmm.Memory;
using Xunit;

namespace SsiHv.Tests.Vmm;

/// <summary>Guest RAM as the VMM allocates it, before and without any hypervisor: real mappings, real copies.</summary>
public sealed class GuestMemoryTests
{
    const ulong Page = 0x1000;

    /// Two nodes' RAM back to back, then a hole up to the BIOS area.
    static GuestMemory TwoAdjacentNodes() =>
        GuestMemory.Create([new Layout.MemoryRange(NodeId.NewNodeId(0), 0, 2 * Page), new Layout.MemoryRange(NodeId.NewNodeId(1), 2 * Page, 2 * Page)]);

    [Fact]
    public void Every_layout_range_and_the_BIOS_area_get_a_region_of_their_own_in_order()
    {
        using var memory = TwoAdjacentNodes();

        Assert.Equal([(0UL, 2 * Page, (int?)0), (2 * Page, 2 * Page, 1), (TableSet.rsdpAddress, TableSet.areaEnd - TableSet.rsdpAddress, null)],
            memory.Regions.Select(r => (r.GuestAddress, r.Mapping.Length, r.Node)));
    }

    [Fact]
    public void A_write_across_adjacent_regions_lands_in_both_mappings_and_reads_back()
    {
        using var memory = TwoAdjacentNodes();
        var data = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();

        memory.Write(2 * Page - 8, data);

        var back = new byte[16];
        memory.Read(2 * Page - 8, back);
        Assert.Equal(data, back);
        Assert.Equal(data[..8], memory.Regions[0].Mapping.Span(2 * Page - 8, 8).ToArray());
        Assert.Equal(data[8..], memory.Regions[1].Mapping.Span(0, 8).ToArray());
    }

    [Fact]
    public void An_access_that_runs_into_a_hole_is_an_error_naming_the_first_address_outside_guest_ram()
    {
        using var memory = TwoAdjacentNodes();

        var error = Assert.Throws<GuestMemoryException>(() => memory.Write(4 * Page - 4, new byte[8]));
        Assert.Contains("0x4000 ", error.Message);
        Assert.Throws<GuestMemoryException>(() => memory.Read(TableSet.areaEnd, new byte[1]));
    }
}
