using SsiHv.Core.Acpi;
using SsiHv.Core.Memory;
using SsiHv.Interop.Memory;

namespace SsiHv.Shell.Vmm.Memory;

/// <summary>
/// Guest physical memory: one anonymous host mapping per RAM range of the layout (docs/design.md §4.3), plus the
/// BIOS area where the ACPI tables live. It is allocated and mapped without any hypervisor, so the pager and its
/// tests need none; a VM is given the regions as a separate step (<see cref="GuestMemoryRegistration"/>). Every
/// access is bounds-checked against the regions; an address outside them is an error naming it, never a wild host write.
/// </summary>
public sealed class GuestMemory : IDisposable
{
    public sealed record Region(string Name, ulong GuestAddress, AnonymousMapping Mapping, int? Node)
    {
        public ulong End => GuestAddress + Mapping.Length;
    }

    readonly List<Region> regions = [];

    public IReadOnlyList<Region> Regions => regions;

    GuestMemory() { }

    public static GuestMemory Create(IEnumerable<Layout.MemoryRange> ranges)
    {
        var memory = new GuestMemory();
        try
        {
            foreach (var range in ranges)
                memory.Add($"node {range.Node} RAM", range.Base, range.Length, range.Node.Value);
            memory.Add("BIOS area (ACPI tables)", TableSet.rsdpAddress, TableSet.areaEnd - TableSet.rsdpAddress, null);
            return memory;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    void Add(string name, ulong guestAddress, ulong length, int? node) =>
        regions.Add(new Region(name, guestAddress, new AnonymousMapping(length), node));

    /// Copies `data` to guest-physical `address`; it may span adjacent regions, but not a hole. Copies go through
    /// <see cref="NativeCopy"/> because guest RAM may be under the userfaultfd pager.
    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var (region, offset, available) = Locate(address, data.Length);
            var count = (int)Math.Min(available, (ulong)data.Length);
            NativeCopy.ToMemory(region.Mapping.Address + (nint)offset, data[..count]);
            data = data[count..];
            address += (ulong)count;
        }
    }

    public void Read(ulong address, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var (region, offset, available) = Locate(address, destination.Length);
            var count = (int)Math.Min(available, (ulong)destination.Length);
            NativeCopy.FromMemory(destination[..count], region.Mapping.Address + (nint)offset);
            destination = destination[count..];
            address += (ulong)count;
        }
    }

    (Region Region, ulong Offset, ulong Available) Locate(ulong address, int wanted)
    {
        foreach (var region in regions)
            if (address >= region.GuestAddress && address < region.End)
                return (region, address - region.GuestAddress, region.End - address);
        throw new GuestMemoryException($"guest-physical 0x{address:X} (+{wanted} bytes) is not guest RAM or the BIOS area");
    }

    public void Dispose()
    {
        foreach (var region in regions)
            region.Mapping.Dispose();
        regions.Clear();
    }
}

public sealed class GuestMemoryException(string message) : Exception(message);
