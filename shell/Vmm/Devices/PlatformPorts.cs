using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>The port devices of our PC (docs/vmm.md §3), attached to a VM's port bus.</summary>
public static class PlatformPorts
{
    /// COM1 is the caller's (it also takes console input); the others report power-off and resets to `stop`.
    public static void Attach(AddressBus ports, SerialPort serial, Action<VmStop> stop)
    {
        ports.Attach(SerialPort.Com1, SerialPort.PortCount, serial);
        ports.Attach(PowerManagementPorts.First, PowerManagementPorts.Count, new PowerManagementPorts(stop));
        ports.Attach(ResetRegisterPort.Port, 1, new ResetRegisterPort(stop));
        ports.Attach(I8042Ports.First, I8042Ports.Count, new I8042Ports(stop));
        var pci = new PciConfigPorts();
        ports.Attach(PciHostBridge.addressPort, 1, pci.AddressRegister);
        ports.Attach(PciHostBridge.dataPort, PciHostBridge.dataPortCount, pci.DataRegister);
    }
}
