using System.Buffers.Binary;
using SsiHv.Core.Acpi;
using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// The FADT's PM1a event block (status, enable), control block and PM timer, on the ports our FACP names;
/// power-off and reset requests become <see cref="VmStop"/>s. The timer counts from the device's creation.
/// Any vCPU may access the registers: one lock keeps their state consistent.
/// </summary>
public sealed class PowerManagementPorts(Action<VmStop> stop) : IBusDevice
{
    public static readonly ushort First = Facp.pm1aEventPort;
    public static readonly ushort Count = (ushort)(Facp.pmTimerPort + Facp.pmTimerLength - Facp.pm1aEventPort);

    static readonly ushort ControlOffset = (ushort)(Facp.pm1aControlPort - Facp.pm1aEventPort);
    static readonly ushort TimerOffset = (ushort)(Facp.pmTimerPort - Facp.pm1aEventPort);
    const ushort StatusOffset = 0, EnableOffset = 2;

    readonly Lock gate = new();
    PowerManagement.Pm state = PowerManagement.initial;
    readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();

    public void Read(ulong offset, Span<byte> data)
    {
        if (offset == TimerOffset)
        {
            Span<byte> timer = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(timer, PowerManagement.pmTimerValue((ulong)clock.Elapsed.Ticks * 100));
            data.Clear();
            timer[..Math.Min(4, data.Length)].CopyTo(data);
            return;
        }
        ushort value;
        lock (gate)
            value = offset switch
            {
                StatusOffset => state.Status,
                EnableOffset => state.Enable,
                _ when offset == ControlOffset => PowerManagement.readControl(state),
                _ => 0,
            };
        data.Clear();
        if (data.Length >= 2)
            BinaryPrimitives.WriteUInt16LittleEndian(data, value);
        else
            data[0] = (byte)value;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        var value = data.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(data) : data[0];
        lock (gate)
            WriteRegister(offset, value);
    }

    void WriteRegister(ulong offset, ushort value)
    {
        if (offset == StatusOffset)
            state = PowerManagement.writeStatus(value, state);
        else if (offset == EnableOffset)
            state = PowerManagement.writeEnable(value, state);
        else if (offset == ControlOffset)
        {
            var (next, request) = PowerManagement.writeControl(value, state);
            state = next;
            if (request is not null)
                stop(request.Value.IsPowerOff ? new VmStop.PowerOff() : new VmStop.Reset());
        }
    }
}
