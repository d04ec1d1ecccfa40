namespace SsiHv.Shell.Vmm.Hypervisor;

/// <summary>One VM of an <see cref="IHypervisor"/>: its guest-physical memory slots, interrupt lines and vCPUs.</summary>
public interface IHypervisorVm : IDisposable
{
    /// The PC platform the hypervisor emulates itself: PIC, IOAPIC, local APICs and PIT. With them INIT/SIPI and hlt
    /// are handled without exits to the VMM; without them (a bare VM, as the fault benchmark's) hlt exits.
    void CreateInKernelPlatform();

    /// Makes `length` bytes of host memory at `hostAddress`, already mapped by the caller, guest-physical memory at
    /// `guestAddress` in memory slot `slot`.
    void MapMemory(uint slot, ulong guestAddress, ulong length, nint hostAddress);

    /// Drives an input line of the in-kernel PIC/IOAPIC to `level`.
    void SetIrqLine(uint irq, bool level);

    IVcpu CreateVcpu(int id);
}
