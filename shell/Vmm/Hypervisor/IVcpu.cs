namespace SsiHv.Shell.Vmm.Hypervisor;

/// <summary>
/// One vCPU of an <see cref="IHypervisorVm"/>. Every member except <see cref="RequestImmediateExit"/> must be called
/// from the thread that runs it: a state call from another thread would wait while the vCPU is in the guest.
/// </summary>
public interface IVcpu : IDisposable
{
    int Id { get; }

    /// Enters the guest and returns why it came back. The data an exit carries is valid until the next Run.
    VcpuExit Run();

    /// Makes the next or current Run return at once (with a kick for a blocked one); safe from any thread.
    void RequestImmediateExit();

    StandardRegisters GetRegisters();
    void SetRegisters(StandardRegisters registers);
    SpecialRegisters GetSpecialRegisters();
    void SetSpecialRegisters(SpecialRegisters registers);
    void SetCpuid(CpuidEntry[] entries);

    /// Returns how many were set: the hypervisor stops at the first MSR it rejects.
    int SetMsrs(MsrEntry[] entries);

    void SetFpu(FpuControl control);

    /// The local APIC's register page, as the hypervisor hands it out and takes it back.
    byte[] GetLapic();
    void SetLapic(byte[] state);
}
