using System.Threading.Channels;
using SsiHv.Core.Devices;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// COM1: feeds port accesses to the pure 8250 model and performs its effects: transmitted bytes go to the
/// console channel, the interrupt line level to the in-kernel PIC/IOAPIC (IRQ 4).
/// </summary>
public sealed class SerialPort(ChannelWriter<byte> console, Action<bool> setInterruptLine) : IBusDevice
{
    public const ushort Com1 = 0x3F8;
    public const ushort PortCount = 8;

    /// vCPU threads (port I/O) and the console input thread both drive the model.
    readonly object gate = new();
    Uart8250.Uart state = Uart8250.initial;
    bool lineLevel;

    public void Read(ulong offset, Span<byte> data)
    {
        lock (gate)
        {
            var (next, value, effects) = Uart8250.read((Uart8250.Register)offset, state);
            state = next;
            data.Fill(0);
            data[0] = value;
            Perform(effects);
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (gate)
        {
            var (next, effects) = Uart8250.write((Uart8250.Register)offset, data[0], state);
            state = next;
            Perform(effects);
        }
    }

    /// A byte typed on the console (interactive runs).
    public void Receive(byte value)
    {
        lock (gate)
        {
            var (next, effects) = Uart8250.receive(value, state);
            state = next;
            Perform(effects);
        }
    }

    void Perform(Microsoft.FSharp.Collections.FSharpList<Uart8250.Effect> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case Uart8250.Effect.Transmit t:
                    console.TryWrite(t.Item);
                    break;
                case Uart8250.Effect.InterruptLine line when line.Item != lineLevel:
                    lineLevel = line.Item;
                    setInterruptLine(lineLevel);
                    break;
            }
        }
    }
}
