namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// A device on an <see cref="AddressBus"/>, port I/O or MMIO (Cloud Hypervisor's BusDevice). vCPU threads call it
/// concurrently: a device with state guards it with its own lock.
/// </summary>
public interface IBusDevice
{
    /// `offset` is relative to the first address of the range the device was attached at.
    void Read(ulong offset, Span<byte> data);
    void Write(ulong offset, ReadOnlySpan<byte> data);
}
