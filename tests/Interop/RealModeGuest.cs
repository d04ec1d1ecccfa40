using SsiHv.Interop.Kvm;
using SsiHv.Interop.Memory;

namespace SsiHv.Tests.Interop;

/// <summary>
/// A one-vCPU KVM VM with 64 KiB of guest memory at address 0 and `code` at 0x1000, where the vCPU starts in
/// real mode: the smallest guest that exercises the real KVM and userfaultfd paths.
/// </summary>
public sealed class RealModeGuest : IDisposable
{
    public const ulong CodeAddress = 0x1000;

    readonly KvmSystem kvm;
    readonly KvmVm vm;

    public AnonymousMapping Memory { get; }
    public KvmVcpu Vcpu { get; }

    public RealModeGuest(byte[] code)
    {
        kvm = KvmSystem.Open();
        vm = kvm.CreateVm();
        Memory = new AnonymousMapping(0x10000);
        code.CopyTo(Memory.Span(CodeAddress, code.Length));
        vm.SetUserMemoryRegion(0, 0, Memory.Length, Memory.Address);
        Vcpu = vm.CreateVcpu(0);
        var sregs = Vcpu.GetSregs();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        Vcpu.SetSregs(sregs);
        Vcpu.SetRegs(new KvmRegs { Rip = CodeAddress, Rflags = 0x2 });
    }

    public void Dispose()
    {
        Vcpu.Dispose();
        vm.Dispose();
        Memory.Dispose();
        kvm.Dispose();
    }
}
