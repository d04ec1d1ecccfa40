namespace SsiHv.Shell.Vmm.Hypervisor;

/// <summary>
/// The hypervisor the VMM runs guests on (after Cloud Hypervisor's <c>hypervisor</c> crate): it creates VMs and
/// says which CPUID leaves it can present. KVM is one implementation (<see cref="Kvm.KvmHypervisor"/>).
/// </summary>
public interface IHypervisor : IDisposable
{
    /// A VM without memory, vCPUs or devices.
    IHypervisorVm CreateVm();

    /// The CPUID leaves this host's hypervisor can present to a guest, before per-vCPU policy.
    CpuidEntry[] SupportedCpuid();
}
