using SsiHv.Interop.Kvm;

namespace SsiHv.Shell.Vmm.Hypervisor.Kvm;

/// <summary>Converts the hypervisor-neutral x86 state of the seam to and from KVM's structs, field by field.</summary>
static unsafe class KvmState
{
    const int InterruptBitmapWords = 4;

    public static StandardRegisters FromKvm(KvmRegs r) => new()
    {
        Rax = r.Rax, Rbx = r.Rbx, Rcx = r.Rcx, Rdx = r.Rdx, Rsi = r.Rsi, Rdi = r.Rdi, Rsp = r.Rsp, Rbp = r.Rbp,
        R8 = r.R8, R9 = r.R9, R10 = r.R10, R11 = r.R11, R12 = r.R12, R13 = r.R13, R14 = r.R14, R15 = r.R15,
        Rip = r.Rip, Rflags = r.Rflags,
    };

    public static KvmRegs ToKvm(StandardRegisters r) => new()
    {
        Rax = r.Rax, Rbx = r.Rbx, Rcx = r.Rcx, Rdx = r.Rdx, Rsi = r.Rsi, Rdi = r.Rdi, Rsp = r.Rsp, Rbp = r.Rbp,
        R8 = r.R8, R9 = r.R9, R10 = r.R10, R11 = r.R11, R12 = r.R12, R13 = r.R13, R14 = r.R14, R15 = r.R15,
        Rip = r.Rip, Rflags = r.Rflags,
    };

    public static SpecialRegisters FromKvm(KvmSregs s)
    {
        var bitmap = new ulong[InterruptBitmapWords];
        for (var i = 0; i < InterruptBitmapWords; i++)
            bitmap[i] = s.InterruptBitmap[i];
        return new SpecialRegisters
        {
            Cs = FromKvm(s.Cs), Ds = FromKvm(s.Ds), Es = FromKvm(s.Es), Fs = FromKvm(s.Fs), Gs = FromKvm(s.Gs), Ss = FromKvm(s.Ss),
            Tr = FromKvm(s.Tr), Ldt = FromKvm(s.Ldt),
            Gdt = new DescriptorTable(s.Gdt.Base, s.Gdt.Limit), Idt = new DescriptorTable(s.Idt.Base, s.Idt.Limit),
            Cr0 = s.Cr0, Cr2 = s.Cr2, Cr3 = s.Cr3, Cr4 = s.Cr4, Cr8 = s.Cr8, Efer = s.Efer, ApicBase = s.ApicBase,
            InterruptBitmap = bitmap,
        };
    }

    public static KvmSregs ToKvm(SpecialRegisters s)
    {
        var sregs = new KvmSregs
        {
            Cs = ToKvm(s.Cs), Ds = ToKvm(s.Ds), Es = ToKvm(s.Es), Fs = ToKvm(s.Fs), Gs = ToKvm(s.Gs), Ss = ToKvm(s.Ss),
            Tr = ToKvm(s.Tr), Ldt = ToKvm(s.Ldt),
            Gdt = new KvmDtable { Base = s.Gdt.Base, Limit = s.Gdt.Limit }, Idt = new KvmDtable { Base = s.Idt.Base, Limit = s.Idt.Limit },
            Cr0 = s.Cr0, Cr2 = s.Cr2, Cr3 = s.Cr3, Cr4 = s.Cr4, Cr8 = s.Cr8, Efer = s.Efer, ApicBase = s.ApicBase,
        };
        if (s.InterruptBitmap is { } bitmap)
            for (var i = 0; i < InterruptBitmapWords; i++)
                sregs.InterruptBitmap[i] = bitmap[i];
        return sregs;
    }

    static SegmentRegister FromKvm(KvmSegment s) => new()
    {
        Base = s.Base, Limit = s.Limit, Selector = s.Selector, Type = s.Type,
        Present = s.Present, Dpl = s.Dpl, Db = s.Db, S = s.S, L = s.L, G = s.G, Avl = s.Avl, Unusable = s.Unusable,
    };

    static KvmSegment ToKvm(SegmentRegister s) => new()
    {
        Base = s.Base, Limit = s.Limit, Selector = s.Selector, Type = s.Type,
        Present = s.Present, Dpl = s.Dpl, Db = s.Db, S = s.S, L = s.L, G = s.G, Avl = s.Avl, Unusable = s.Unusable,
    };

    public static CpuidEntry FromKvm(KvmCpuidEntry2 e) => new(e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx);

    public static KvmCpuidEntry2 ToKvm(CpuidEntry e) => new()
    {
        Function = e.Function, Index = e.Index, Flags = e.Flags, Eax = e.Eax, Ebx = e.Ebx, Ecx = e.Ecx, Edx = e.Edx,
    };
}
