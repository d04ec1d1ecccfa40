using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// PCI configuration mechanism #1 with nothing behind it but the host bridge (core PciHostBridge): CONFIG_ADDRESS
/// at 0xCF8 (dword accesses; 0xCF9 stays the reset register) and CONFIG_DATA at 0xCFC-0xCFF.
/// </summary>
public sealed class PciConfigPorts
{
    uint address;

    public IPortDevice AddressRegister => new Register(this, isAddress: true);
    public IPortDevice DataRegister => new Register(this, isAddress: false);

    sealed class Register(PciConfigPorts owner, bool isAddress) : IPortDevice
    {
        public void Read(ushort offset, Span<byte> data)
        {
            var value = isAddress
                ? (data.Length == 4 ? owner.address : uint.MaxValue)
                : PciHostBridge.readData(owner.address, offset, data.Length);
            for (var i = 0; i < data.Length; i++)
                data[i] = (byte)(value >> (8 * i));
        }

        public void Write(ushort offset, ReadOnlySpan<byte> data)
        {
            // Only a dword write is CONFIG_ADDRESS; configuration writes to the bridge change nothing.
            if (isAddress && data.Length == 4)
                owner.address = PciHostBridge.writeAddress(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data));
        }
    }
}
