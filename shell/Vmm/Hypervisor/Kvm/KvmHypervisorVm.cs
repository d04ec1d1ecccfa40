using SsiHv.Interop.Kvm;
using SsiHv.Interop.Linux;

namespace SsiHv.Shell.Vmm.Hypervisor.Kvm;

/// <summary>The <see cref="IHypervisorVm"/> over a KVM VM file descriptor.</summary>
public sealed class KvmHypervisorVm(KvmVm vm) : IHypervisorVm
{
    /// Intel VT-x's real-mode TSS needs three pages below 4 GiB outside RAM; QEMU and Firecracker use this address.
    const ulong TssAddress = 0xFFFBD000;

    /// KVM_SET_TSS_ADDR (VT-x runs real mode through it), KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2.
    public void CreateInKernelPlatform()
    {
        TrySetTssAddress();
        vm.CreateIrqchip();
        vm.CreatePit();
    }

    void TrySetTssAddress()
    {
        try
        {
            vm.SetTssAddress(TssAddress);
        }
        catch (LinuxError)
        {
            // Only VT-x needs it; other KVM flavours (SVM, kvm_pvm) may not implement the ioctl.
        }
    }

    public void MapMemory(uint slot, ulong guestAddress, ulong length, nint hostAddress) =>
        vm.SetUserMemoryRegion(slot, guestAddress, length, hostAddress);

    public void SetIrqLine(uint irq, bool level) => vm.SetIrqLine(irq, level);

    public IVcpu CreateVcpu(int id) => new KvmHypervisorVcpu(vm.CreateVcpu(id));

    public void Dispose() => vm.Dispose();
}
