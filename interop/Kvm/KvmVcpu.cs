using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Kvm;

/// <summary>
/// One vCPU: its registers, CPUID, MSRs, MP state, and KVM_RUN with the shared kvm_run page. Every method except
/// <see cref="RequestImmediateExit"/> must be called from the thread that runs it: KVM serializes vCPU ioctls,
/// so a state ioctl from another thread blocks while this one is inside KVM_RUN.
/// </summary>
public sealed unsafe class KvmVcpu : IDisposable
{
    readonly FileDescriptor fd;
    byte* run;
    readonly int runSize;

    public int Id { get; }

    internal KvmVcpu(int id, FileDescriptor fd, byte* run, int runSize)
    {
        Id = id;
        this.fd = fd;
        this.run = run;
        this.runSize = runSize;
    }

    public enum RunOutcome { Exited, Interrupted, TryAgain }

    /// KVM_RUN. EINTR (a kick) and EAGAIN (an AP's first run after INIT) are outcomes, not errors.
    public RunOutcome Run()
    {
        if (NativeLibc.ioctl(fd.Fd, KvmIoctl.Run, 0) == 0)
            return RunOutcome.Exited;
        var error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return error switch
        {
            NativeLibc.EINTR => RunOutcome.Interrupted,
            NativeLibc.EAGAIN => RunOutcome.TryAgain,
            _ => throw new LinuxError($"KVM_RUN on vCPU {Id}", error),
        };
    }

    /// Makes the next or current KVM_RUN return at once (with a kick for a blocked one); safe from any thread.
    public void RequestImmediateExit() => Volatile.Write(ref run[KvmAbi.RunImmediateExitOffset], 1);

    public KvmExitReason ExitReason => (KvmExitReason)(*(uint*)(run + KvmAbi.RunExitReasonOffset));

    public ref KvmExitIo IoExit => ref *(KvmExitIo*)(run + KvmAbi.RunExitInfoOffset);
    public ref KvmExitMmio MmioExit => ref *(KvmExitMmio*)(run + KvmAbi.RunExitInfoOffset);
    public ref KvmExitInternalError InternalErrorExit => ref *(KvmExitInternalError*)(run + KvmAbi.RunExitInfoOffset);

    /// KVM_SYSTEM_EVENT_* of a KVM_EXIT_SYSTEM_EVENT: 1 shutdown, 2 reset, 3 crash.
    public uint SystemEventType => *(uint*)(run + KvmAbi.RunExitInfoOffset);

    /// The hardware entry failure reason of a KVM_EXIT_FAIL_ENTRY.
    public ulong FailEntryReason => *(ulong*)(run + KvmAbi.RunExitInfoOffset);

    /// Bytes of a port I/O exit's data, inside the kvm_run page (bounds-checked against it).
    public Span<byte> IoData()
    {
        ref var io = ref IoExit;
        var length = (long)io.Size * io.Count;
        if (io.DataOffset > (ulong)runSize || (ulong)length > (ulong)runSize - io.DataOffset)
            throw new InvalidOperationException($"KVM_EXIT_IO data [{io.DataOffset}, +{length}) lies outside kvm_run");
        return new Span<byte>(run + io.DataOffset, (int)length);
    }

    /// The data bytes of an MMIO exit (its length, at most 8), inside the kvm_run page.
    public Span<byte> MmioData()
    {
        ref var mmio = ref MmioExit;
        fixed (byte* data = mmio.Data)
            return new Span<byte>(data, (int)Math.Min(mmio.Len, 8u));
    }

    public KvmRegs GetRegs()
    {
        KvmRegs regs;
        KvmCall.Ioctl(fd, KvmIoctl.GetRegs, &regs, "KVM_GET_REGS");
        return regs;
    }

    public void SetRegs(in KvmRegs regs)
    {
        fixed (KvmRegs* p = &regs)
            KvmCall.Ioctl(fd, KvmIoctl.SetRegs, p, "KVM_SET_REGS");
    }

    public KvmSregs GetSregs()
    {
        KvmSregs sregs;
        KvmCall.Ioctl(fd, KvmIoctl.GetSregs, &sregs, "KVM_GET_SREGS");
        return sregs;
    }

    public void SetSregs(in KvmSregs sregs)
    {
        fixed (KvmSregs* p = &sregs)
            KvmCall.Ioctl(fd, KvmIoctl.SetSregs, p, "KVM_SET_SREGS");
    }

    public void SetCpuid(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        var buffer = new byte[KvmAbi.Cpuid2HeaderSize + entries.Length * sizeof(KvmCpuidEntry2)];
        fixed (byte* p = buffer)
        {
            *(uint*)p = (uint)entries.Length;
            entries.CopyTo(new Span<KvmCpuidEntry2>(p + KvmAbi.Cpuid2HeaderSize, entries.Length));
            KvmCall.Ioctl(fd, KvmIoctl.SetCpuid2, p, "KVM_SET_CPUID2");
        }
    }

    /// KVM_SET_MSRS; returns how many were set (KVM stops at the first it rejects).
    public int SetMsrs(ReadOnlySpan<KvmMsrEntry> entries)
    {
        var buffer = new byte[KvmAbi.MsrsHeaderSize + entries.Length * sizeof(KvmMsrEntry)];
        fixed (byte* p = buffer)
        {
            *(uint*)p = (uint)entries.Length;
            entries.CopyTo(new Span<KvmMsrEntry>(p + KvmAbi.MsrsHeaderSize, entries.Length));
            return KvmCall.Ioctl(fd, KvmIoctl.SetMsrs, p, "KVM_SET_MSRS");
        }
    }

    public KvmFpu GetFpu()
    {
        KvmFpu fpu;
        KvmCall.Ioctl(fd, KvmIoctl.GetFpu, &fpu, "KVM_GET_FPU");
        return fpu;
    }

    public void SetFpu(in KvmFpu fpu)
    {
        fixed (KvmFpu* p = &fpu)
            KvmCall.Ioctl(fd, KvmIoctl.SetFpu, p, "KVM_SET_FPU");
    }

    public KvmMpState GetMpState()
    {
        uint state;
        KvmCall.Ioctl(fd, KvmIoctl.GetMpState, &state, "KVM_GET_MP_STATE");
        return (KvmMpState)state;
    }

    public void SetMpState(KvmMpState state)
    {
        var value = (uint)state;
        KvmCall.Ioctl(fd, KvmIoctl.SetMpState, &value, "KVM_SET_MP_STATE");
    }

    public byte[] GetLapic()
    {
        var state = new byte[KvmAbi.LapicStateSize];
        fixed (byte* p = state)
            KvmCall.Ioctl(fd, KvmIoctl.GetLapic, p, "KVM_GET_LAPIC");
        return state;
    }

    public void SetLapic(byte[] state)
    {
        if (state.Length != KvmAbi.LapicStateSize)
            throw new ArgumentException($"a LAPIC state is {KvmAbi.LapicStateSize} bytes, not {state.Length}", nameof(state));
        fixed (byte* p = state)
            KvmCall.Ioctl(fd, KvmIoctl.SetLapic, p, "KVM_SET_LAPIC");
    }

    public void Dispose()
    {
        if (run != null)
        {
            NativeLibc.munmap(run, (nuint)runSize);
            run = null;
        }
        fd.Dispose();
    }
}
