using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// PCI configuration mechanism #1 with nothing behind it but the host bridge (core PciHostBridge): CONFIG_ADDRESS
/// at 0xCF8 (dword accesses; 0xCF9 stays the reset register) and CONFIG_DATA at 0xCFC-0xCFF. The two registers
/// are two bus devices over one CONFIG_ADDRESS, which one lock guards.
/// </summary>
public sealed class PciConfigPorts
{
    readonly Lock gate = new();
    uint address;

    public PciConfigPorts()
    {
        AddressRegister = new Register(this, isAddress: true);
        DataRegister = new Register(this, isAddress: false);
    }

    public IBusDevice AddressRegister { get; }
    public IBusDevice DataRegister { get; }

    sealed class Register(PciConfigPorts owner, bool isAddress) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            uint value;
            lock (owner.gate)
                value = isAddress
                    ? PciHostBridge.readAddress(owner.address, data.Length)
                    : PciHostBridge.readData(owner.address, (int)offset, data.Length);
            for (var i = 0; i < data.Length; i++)
                data[i] = (byte)(value >> (8 * i));
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            // Configuration writes to the bridge change nothing.
            if (!isAddress)
                return;
            uint value = 0;
            for (var i = 0; i < data.Length; i++)
                value |= (uint)data[i] << (8 * i);
            lock (owner.gate)
                owner.address = PciHostBridge.afterAddressWrite(owner.address, value, data.Length);
        }
    }
}
