using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>The i8042 keyboard controller, reduced to what guests use it for here: the pulse-reset command.</summary>
public sealed class I8042Ports(Action<VmStop> stop) : IBusDevice
{
    public const ushort First = 0x60;
    public const ushort Count = 5;
    const ushort CommandOffset = 4;

    /// Status and data read as 0: no keyboard data, input buffer empty.
    public void Read(ulong offset, Span<byte> data) => data.Clear();

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == CommandOffset && data[0] == PowerManagement.i8042ResetCommand)
            stop(new VmStop.Reset());
    }
}
