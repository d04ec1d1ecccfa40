using System.Runtime.InteropServices;

namespace SsiHv.Interop.Kvm;

/// <summary>
/// Sizes and offsets of the KVM ABI (x86-64) that no struct of ours carries, checked by tests against
/// linux/kvm.h; the structs below give their own sizes (sizeof), as the kernel's do to the ioctl macros.
/// </summary>
public static class KvmAbi
{
    /// struct kvm_lapic_state: the APIC register page, handled as bytes.
    public const uint LapicStateSize = 1024;
    /// struct kvm_cpuid2 and struct kvm_msrs: a count and padding before their entries.
    public const uint Cpuid2HeaderSize = 8;
    public const uint MsrsHeaderSize = 8;

    // struct kvm_run: the fixed header, then the exit-reason union at 32.
    public const int RunImmediateExitOffset = 1;
    public const int RunExitReasonOffset = 8;
    public const int RunExitInfoOffset = 32;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss;
    public KvmSegment Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public fixed ulong InterruptBitmap[4];
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    public uint Padding0, Padding1, Padding2;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrEntry
{
    public uint Index;
    public uint Reserved;
    public ulong Data;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmPitConfig
{
    public uint Flags;
    public fixed uint Padding[15];
}

/// <summary>The KVM_EXIT_IO part of kvm_run's exit union.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmExitIo
{
    public const byte DirectionIn = 0;
    public const byte DirectionOut = 1;
    public byte Direction;
    public byte Size;
    public ushort Port;
    public uint Count;
    public ulong DataOffset;
}

/// <summary>The KVM_EXIT_MMIO part of kvm_run's exit union.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmExitMmio
{
    public ulong PhysAddr;
    public fixed byte Data[8];
    public uint Len;
    public byte IsWrite;
}

/// <summary>The KVM_EXIT_INTERNAL_ERROR part of kvm_run's exit union.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmExitInternalError
{
    public uint Suberror;
    public uint DataCount;
    public fixed ulong Data[16];
}

/// <summary>struct kvm_fpu: x87 registers, control/status words, SSE registers and MXCSR.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmFpu
{
    public fixed byte Fpr[128];
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    public byte Padding1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    public fixed byte Xmm[256];
    public uint Mxcsr;
    public uint Padding2;
}

/// <summary>struct kvm_irqchip: which in-kernel chip (0 PIC master, 1 PIC slave, 2 IOAPIC) and its state.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmIrqchip
{
    public uint ChipId;
    public uint Padding;
    public fixed byte State[512];
}
