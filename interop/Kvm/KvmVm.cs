using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Kvm;

/// <summary>A KVM virtual machine: memory slots, the in-kernel irqchip and PIT, vCPU creation.</summary>
public sealed unsafe class KvmVm : IDisposable
{
    readonly FileDescriptor fd;
    readonly int vcpuMmapSize;

    internal KvmVm(FileDescriptor fd, int vcpuMmapSize)
    {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    public void SetUserMemoryRegion(uint slot, ulong guestPhysicalAddress, ulong size, nint hostAddress)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot, GuestPhysAddr = guestPhysicalAddress, MemorySize = size, UserspaceAddr = (ulong)hostAddress,
        };
        KvmCall.Ioctl(fd, KvmIoctl.SetUserMemoryRegion, &region, $"KVM_SET_USER_MEMORY_REGION slot {slot} at 0x{guestPhysicalAddress:X}");
    }

    /// Intel VT-x needs three pages for its real-mode TSS; harmless elsewhere.
    public void SetTssAddress(ulong address) => KvmCall.Ioctl(fd, KvmIoctl.SetTssAddr, (nuint)address, "KVM_SET_TSS_ADDR");

    /// In-kernel PIC, IOAPIC and local APICs: with them, INIT/SIPI and hlt are handled without exits.
    public void CreateIrqchip() => KvmCall.Ioctl(fd, KvmIoctl.CreateIrqchip, 0, "KVM_CREATE_IRQCHIP");

    public void CreatePit()
    {
        var config = new KvmPitConfig();
        KvmCall.Ioctl(fd, KvmIoctl.CreatePit2, &config, "KVM_CREATE_PIT2");
    }

    /// The state of one in-kernel interrupt controller (0 PIC master, 1 PIC slave, 2 IOAPIC).
    public KvmIrqchip GetIrqchip(uint chipId)
    {
        var chip = new KvmIrqchip { ChipId = chipId };
        KvmCall.Ioctl(fd, KvmIoctl.GetIrqchip, &chip, $"KVM_GET_IRQCHIP {chipId}");
        return chip;
    }

    public void SetIrqchip(in KvmIrqchip chip)
    {
        fixed (KvmIrqchip* p = &chip)
            KvmCall.Ioctl(fd, KvmIoctl.SetIrqchip, p, $"KVM_SET_IRQCHIP {chip.ChipId}");
    }

    /// Drives an in-kernel PIC/IOAPIC input line (KVM_IRQ_LINE) to `level`.
    public void SetIrqLine(uint irq, bool level)
    {
        var argument = stackalloc uint[2] { irq, level ? 1u : 0u };
        KvmCall.Ioctl(fd, KvmIoctl.IrqLine, argument, $"KVM_IRQ_LINE {irq}");
    }

    public KvmVcpu CreateVcpu(int id)
    {
        var vcpuFd = new FileDescriptor(KvmCall.Ioctl(fd, KvmIoctl.CreateVcpu, (nuint)id, $"KVM_CREATE_VCPU {id}"));
        var run = NativeLibc.mmap(null, (nuint)vcpuMmapSize, NativeLibc.PROT_READ | NativeLibc.PROT_WRITE, NativeLibc.MAP_SHARED, vcpuFd.Fd, 0);
        if (run == NativeLibc.MapFailed)
        {
            var error = LinuxError.Last($"mmap of kvm_run for vCPU {id}");
            vcpuFd.Dispose();
            throw error;
        }
        return new KvmVcpu(id, vcpuFd, (byte*)run, vcpuMmapSize);
    }

    public void Dispose() => fd.Dispose();
}
