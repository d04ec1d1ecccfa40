using SsiHv.Interop.Kvm;

namespace SsiHv.Shell.Vmm.Hypervisor.Kvm;

/// <summary>The <see cref="IHypervisor"/> over Linux KVM (/dev/kvm, interop/Kvm). Open it with <see cref="HostKvm.Open"/>.</summary>
public sealed class KvmHypervisor(KvmSystem kvm) : IHypervisor
{
    public IHypervisorVm CreateVm() => new KvmHypervisorVm(kvm.CreateVm());

    public CpuidEntry[] SupportedCpuid() => kvm.SupportedCpuid().Select(KvmState.FromKvm).ToArray();

    public void Dispose() => kvm.Dispose();
}
