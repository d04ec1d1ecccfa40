using SsiHv.Core.Acpi;
using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>The reset register named in the FADT (port 0xCF9): writing RESET_VALUE resets the machine.</summary>
public sealed class ResetRegisterPort(Action<VmStop> stop) : IBusDevice
{
    public static readonly ushort Port = Facp.resetPort;

    public void Read(ulong offset, Span<byte> data) => data.Clear();

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (PowerManagement.writeReset(data[0]) is not null)
            stop(new VmStop.Reset());
    }
}
