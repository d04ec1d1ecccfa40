using System.Buffers.Binary;
using System.Threading.Channels;
using SsiHv.Core.Acpi;
using SsiHv.Core.Devices;
using SsiHv.Shell.Vmm.Devices;
using Xunit;

namespace SsiHv.Tests.Vmm;

/// <summary>The port I/O and MMIO buses with the VMM's own devices on them, as vCPU exits reach them; no KVM.</summary>
public sealed class AddressBusTests
{
    readonly List<VmStop> stops = [];
    readonly Channel<byte> console = Channel.CreateUnbounded<byte>();

    /// The port bus as VirtualMachine builds it.
    AddressBus PortBusOfAVm()
    {
        var ports = new AddressBus("port I/O");
        PlatformPorts.Attach(ports, new SerialPort(console.Writer, _ => { }), Stop);
        return ports;
    }

    void Stop(VmStop stop)
    {
        lock (stops)
            stops.Add(stop);
    }

    static byte[] Read(AddressBus bus, ulong address, int width)
    {
        var data = new byte[width];
        bus.Read(address, data);
        return data;
    }

    [Fact]
    public void Each_access_reaches_the_device_claiming_its_address_at_the_offset_in_that_range()
    {
        var ports = PortBusOfAVm();

        ports.Write(SerialPort.Com1, "A"u8);
        ports.Write(PciHostBridge.addressPort, BitConverter.GetBytes(0x8000_0000u));
        var pciId = BinaryPrimitives.ReadUInt32LittleEndian(Read(ports, PciHostBridge.dataPort, 4));
        var control = BinaryPrimitives.ReadUInt16LittleEndian(Read(ports, Facp.pm1aControlPort, 2));

        Assert.True(console.Reader.TryRead(out var transmitted));
        Assert.Equal((byte)'A', transmitted);
        Assert.Equal(0x0008_1B36u, pciId);
        Assert.Equal(Facp.sciEnableBit, (ushort)(control & Facp.sciEnableBit));
        Assert.Equal(0, ports.UnclaimedAccesses);
    }

    [Fact]
    public void The_power_off_and_both_reset_registers_stop_the_vm_as_their_devices_say()
    {
        var ports = PortBusOfAVm();

        ports.Write(Facp.pm1aControlPort, BitConverter.GetBytes((ushort)((Dsdt.s5SleepType << Facp.sleepTypeShift) | Facp.sleepEnableBit)));
        ports.Write(ResetRegisterPort.Port, [Facp.resetValue]);
        ports.Write(I8042Ports.First + 4, [PowerManagement.i8042ResetCommand]);

        Assert.Equal([new VmStop.PowerOff(), new VmStop.Reset(), new VmStop.Reset()], stops);
    }

    [Theory]
    [InlineData("port I/O", 0xCFAUL)] // between CONFIG_ADDRESS's reset-register neighbour and CONFIG_DATA
    [InlineData("MMIO", 0xFED0_0000UL)] // where a PC has its HPET; this VM has none
    public void An_unclaimed_address_reads_all_ones_at_the_access_width_ignores_writes_and_is_counted(string name, ulong address)
    {
        var bus = name == "MMIO" ? new AddressBus(name) : PortBusOfAVm();

        bus.Write(address, [0x12, 0x34]);

        Assert.Equal([0xFF, 0xFF], Read(bus, address, 2));
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], Read(bus, address, 8));
        Assert.Equal(3, bus.UnclaimedAccesses);
        Assert.Empty(stops);
    }

    [Fact]
    public void A_range_overlapping_an_attached_device_is_refused_naming_both_and_a_neighbour_is_not()
    {
        var ports = PortBusOfAVm();

        var error = Assert.Throws<InvalidOperationException>(() => ports.Attach(0x3FC, 8, new I8042Ports(Stop)));
        Assert.Equal("port I/O bus: 0x3FC-0x403 overlaps 0x3F8-0x3FF, already attached", error.Message);
        ports.Attach(0x400, 8, new I8042Ports(Stop));
    }

    [Fact]
    public async Task A_device_busy_on_one_vcpu_does_not_hold_up_another_device_on_another()
    {
        var ports = PortBusOfAVm();
        using var busy = new BlockingDevice();
        ports.Attach(0x500, 1, busy);

        var blocked = new Thread(() => ports.Read(0x500, new byte[1]));
        blocked.Start();
        Assert.True(busy.Entered.Wait(TimeSpan.FromSeconds(10)), "the first access never reached its device");
        var other = Task.Run(() => Read(ports, Facp.pm1aControlPort, 2));
        var finished = await Task.WhenAny(other, Task.Delay(TimeSpan.FromSeconds(10))) == other;
        busy.Release.Set();
        blocked.Join();

        Assert.True(finished, "an access to the PM registers waited for a different device");
    }

    /// Holds a read until released, as a device doing slow work would.
    sealed class BlockingDevice : IBusDevice, IDisposable
    {
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Release { get; } = new();

        public void Read(ulong offset, Span<byte> data)
        {
            Entered.Set();
            Release.Wait();
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data) { }

        public void Dispose()
        {
            Entered.Dispose();
            Release.Dispose();
        }
    }
}
