namespace SsiHv.Shell.Vmm.Devices;

/// <summary>A device on the port I/O bus (Cloud Hypervisor's BusDevice, for ports).</summary>
public interface IPortDevice
{
    /// `offset` is relative to the first port the device was attached at.
    void Read(ushort offset, Span<byte> data);
    void Write(ushort offset, ReadOnlySpan<byte> data);
}
