using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// Routes a vCPU's accesses to the device attached at that address range: one bus for port I/O, one for MMIO
/// (after Cloud Hypervisor's vm-device Bus; which range holds an address, and whether ranges overlap, is decided by
/// the core's <see cref="DeviceBus"/>). Devices are attached before any vCPU runs and never after, so a lookup takes
/// no lock, and the bus holds none around a device: each device keeps its own state consistent with its own lock,
/// and accesses to different devices never wait on each other.
/// <para>The one rule for an <b>unclaimed address</b>, port or MMIO: a read returns all ones at the access width and
/// a write is ignored, as on a PC bus with nothing attached; each such access is counted
/// (<see cref="UnclaimedAccesses"/>), so a guest probing odd addresses is visible.</para>
/// </summary>
public sealed class AddressBus(string name)
{
    DeviceBus.Bus<IBusDevice> bus = DeviceBus.empty<IBusDevice>();
    long unclaimedAccesses;

    public long UnclaimedAccesses => Interlocked.Read(ref unclaimedAccesses);

    /// Claims `length` addresses from `first` for `device`; a range that overlaps an attached one is refused.
    public void Attach(ulong first, ulong length, IBusDevice device)
    {
        var range = DeviceBus.BusRangeModule.create(first, length);
        if (range.IsError)
            throw new InvalidOperationException($"{name} bus: {range.ErrorValue}");
        var attached = DeviceBus.attach(range.ResultValue, device, bus);
        if (attached.IsError)
            throw new InvalidOperationException($"{name} bus: {attached.ErrorValue}");
        bus = attached.ResultValue;
    }

    public void Read(ulong address, Span<byte> data)
    {
        if (Claimant(address) is { } claim)
            claim.Device.Read(claim.Offset, data);
        else
            data.Fill(0xFF);
    }

    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (Claimant(address) is { } claim)
            claim.Device.Write(claim.Offset, data);
    }

    /// The device and offset for `address`; null (and counted) when no device claims it.
    (IBusDevice Device, ulong Offset)? Claimant(ulong address)
    {
        var found = DeviceBus.find(address, bus);
        if (found.IsSome)
            return found.Value;
        Interlocked.Increment(ref unclaimedAccesses);
        return null;
    }
}
