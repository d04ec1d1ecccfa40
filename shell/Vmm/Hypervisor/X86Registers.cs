namespace SsiHv.Shell.Vmm.Hypervisor;

// The x86-64 vCPU state the VMM reads and writes, independent of any hypervisor's structs.

public record struct StandardRegisters
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

public record struct SegmentRegister
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
}

public record struct DescriptorTable(ulong Base, ushort Limit);

/// Segments, descriptor tables, control registers, EFER and the APIC base; <see cref="InterruptBitmap"/> is the
/// pending external interrupts, carried so that reading, changing and writing back keeps them.
public record struct SpecialRegisters
{
    public SegmentRegister Cs, Ds, Es, Fs, Gs, Ss;
    public SegmentRegister Tr, Ldt;
    public DescriptorTable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public ulong[] InterruptBitmap;
}

public record struct CpuidEntry(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx);

public record struct MsrEntry(uint Index, ulong Data);

/// The x87 control word and MXCSR; the rest of the FPU state (registers, status, tags) is set to zero.
public record struct FpuControl(ushort X87ControlWord, uint Mxcsr);
