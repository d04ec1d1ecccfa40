using SsiHv.Interop.Kvm;

namespace SsiHv.Shell.Vmm.Hypervisor.Kvm;

/// <summary>
/// The <see cref="IVcpu"/> over a KVM vCPU: KVM_RUN's exit reason and kvm_run's exit union become a
/// <see cref="VcpuExit"/>; exit data stays in the kvm_run page, where KVM reads the VMM's answer from.
/// </summary>
public sealed class KvmHypervisorVcpu(KvmVcpu vcpu) : IVcpu
{
    const uint SystemEventShutdown = 1, SystemEventReset = 2;

    readonly ExitData portIoData = new PortIoData(vcpu);
    readonly ExitData mmioData = new MmioData(vcpu);

    public int Id => vcpu.Id;

    /// KVM_RUN; EINTR (a kick) and EAGAIN (an AP's first run after INIT) are <see cref="VcpuExit.Interrupted"/>.
    public VcpuExit Run() => vcpu.Run() == KvmVcpu.RunOutcome.Exited ? CurrentExit() : VcpuExit.Interrupted.Instance;

    VcpuExit CurrentExit()
    {
        switch (vcpu.ExitReason)
        {
            case KvmExitReason.Io:
                var io = vcpu.IoExit;
                return io.Direction == KvmExitIo.DirectionOut
                    ? new VcpuExit.PortOut(io.Port, io.Size, portIoData)
                    : new VcpuExit.PortIn(io.Port, io.Size, portIoData);
            case KvmExitReason.Mmio:
                var address = vcpu.MmioExit.PhysAddr;
                return vcpu.MmioExit.IsWrite == 0 ? new VcpuExit.MmioRead(address, mmioData) : new VcpuExit.MmioWrite(address, mmioData);
            case KvmExitReason.SystemEvent:
                return vcpu.SystemEventType switch
                {
                    SystemEventShutdown => new VcpuExit.PowerOff(),
                    SystemEventReset => new VcpuExit.Reset(),
                    var type => new VcpuExit.SystemEvent(type),
                };
            case KvmExitReason.Shutdown:
                return new VcpuExit.TripleFault();
            case KvmExitReason.InternalError:
                return new VcpuExit.InternalError(
                    $"KVM internal error, suberror {vcpu.InternalErrorExit.Suberror} (1 = emulation failure: an instruction KVM cannot emulate on this host)");
            case KvmExitReason.FailEntry:
                return new VcpuExit.FailedEntry(vcpu.FailEntryReason);
            case KvmExitReason.Hlt:
                return new VcpuExit.Halt();
            default:
                return new VcpuExit.Unsupported($"unexpected exit reason {(uint)vcpu.ExitReason} ({vcpu.ExitReason})");
        }
    }

    public void RequestImmediateExit() => vcpu.RequestImmediateExit();

    public StandardRegisters GetRegisters() => KvmState.FromKvm(vcpu.GetRegs());
    public void SetRegisters(StandardRegisters registers) => vcpu.SetRegs(KvmState.ToKvm(registers));
    public SpecialRegisters GetSpecialRegisters() => KvmState.FromKvm(vcpu.GetSregs());
    public void SetSpecialRegisters(SpecialRegisters registers) => vcpu.SetSregs(KvmState.ToKvm(registers));
    public void SetCpuid(CpuidEntry[] entries) => vcpu.SetCpuid(entries.Select(KvmState.ToKvm).ToArray());
    public int SetMsrs(MsrEntry[] entries) => vcpu.SetMsrs(entries.Select(e => new KvmMsrEntry { Index = e.Index, Data = e.Data }).ToArray());
    public void SetFpu(FpuControl control) => vcpu.SetFpu(new KvmFpu { Fcw = control.X87ControlWord, Mxcsr = control.Mxcsr });
    public byte[] GetLapic() => vcpu.GetLapic();
    public void SetLapic(byte[] state) => vcpu.SetLapic(state);

    public void Dispose() => vcpu.Dispose();

    /// A port I/O exit's bytes in kvm_run (bounds-checked against the page on every access).
    sealed class PortIoData(KvmVcpu vcpu) : ExitData
    {
        public override Span<byte> Bytes => vcpu.IoData();
    }

    sealed class MmioData(KvmVcpu vcpu) : ExitData
    {
        public override Span<byte> Bytes => vcpu.MmioData();
    }
}
