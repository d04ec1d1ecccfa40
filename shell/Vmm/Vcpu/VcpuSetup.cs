using SsiHv.Core.Boot;
using SsiHv.Core.Vcpu;
using SsiHv.Shell.Vmm.Hypervisor;

namespace SsiHv.Shell.Vmm.Vcpu;

/// <summary>Puts a vCPU into the state the boot plan asks for, and gives every vCPU its own CPUID identity.</summary>
public static class VcpuSetup
{
    public static void SetCpuid(IVcpu vcpu, CpuidEntry[] supported, uint apicId)
    {
        var leaves = Microsoft.FSharp.Collections.ListModule.OfSeq(supported.Select(e =>
            new CpuidPolicy.Leaf(e.Function, e.Index, e.Eax, e.Ebx, e.Ecx, e.Edx)));
        var patched = CpuidPolicy.forCpu(apicId, leaves).ToArray();
        var entries = supported.ToArray();
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i].Eax = patched[i].Eax;
            entries[i].Ebx = patched[i].Ebx;
            entries[i].Ecx = patched[i].Ecx;
            entries[i].Edx = patched[i].Edx;
        }
        vcpu.SetCpuid(entries);
    }

    public static void SetBootMsrs(IVcpu vcpu) => SetMsrs(vcpu, BootMsrs.forBoot);

    /// Call with every vCPU, back to back, once all exist (see BootMsrs.synchronizeTimeStampCounters).
    public static void SynchronizeTimeStampCounters(IEnumerable<IVcpu> vcpus)
    {
        foreach (var vcpu in vcpus)
            SetMsrs(vcpu, BootMsrs.synchronizeTimeStampCounters);
    }

    /// The hypervisor stops at the first MSR it rejects; every MSR we write is architectural, so a short count is a failure.
    static void SetMsrs(IVcpu vcpu, Microsoft.FSharp.Collections.FSharpList<Tuple<uint, ulong>> msrs)
    {
        var entries = msrs.Select(m => new MsrEntry(m.Item1, m.Item2)).ToArray();
        var written = vcpu.SetMsrs(entries);
        if (written != entries.Length)
            throw new InvalidOperationException($"KVM_SET_MSRS on vCPU {vcpu.Id} stopped at MSR 0x{entries[written].Index:X}");
    }

    /// The x87 control word and MXCSR a 64-bit kernel expects at entry: all exceptions masked (the reset values
    /// FNINIT and the SDM give), as Firecracker sets them.
    public static void SetBootFpu(IVcpu vcpu)
    {
        const ushort x87AllExceptionsMasked = 0x37F;
        const uint sseAllExceptionsMasked = 0x1F80;
        vcpu.SetFpu(new FpuControl(x87AllExceptionsMasked, sseAllExceptionsMasked));
    }

    public static void SetEntryState(IVcpu vcpu, BootPlan.EntryState entry)
    {
        var sregs = vcpu.GetSpecialRegisters();
        sregs.Cs = Segment(entry.Cs);
        sregs.Ds = Segment(entry.Ds);
        sregs.Es = Segment(entry.Es);
        sregs.Fs = Segment(entry.Fs);
        sregs.Gs = Segment(entry.Gs);
        sregs.Ss = Segment(entry.Ss);
        sregs.Tr = Segment(entry.Tr);
        sregs.Gdt = new DescriptorTable(entry.GdtBase, entry.GdtLimit);
        sregs.Idt = new DescriptorTable(entry.IdtBase, entry.IdtLimit);
        sregs.Cr0 = entry.Cr0;
        sregs.Cr3 = entry.Cr3;
        sregs.Cr4 = entry.Cr4;
        sregs.Efer = entry.Efer;
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new StandardRegisters { Rip = entry.Rip, Rsp = entry.Rsp, Rsi = entry.Rsi, Rbx = entry.Rbx, Rflags = entry.Rflags });
    }

    static SegmentRegister Segment(BootPlan.SegmentRegister s) => new()
    {
        Selector = s.Selector,
        Base = s.Base,
        Limit = s.Limit,
        Type = s.Type,
        Present = s.Present ? (byte)1 : (byte)0,
        Dpl = s.Dpl,
        Db = s.DefaultSize32 ? (byte)1 : (byte)0,
        S = s.CodeOrData ? (byte)1 : (byte)0,
        L = s.Long ? (byte)1 : (byte)0,
        G = s.Granularity4K ? (byte)1 : (byte)0,
    };
}
