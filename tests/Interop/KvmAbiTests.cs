using SsiHv.Interop.Kvm;
using Xunit;
using static SsiHv.Tests.Interop.OurLayout;

namespace SsiHv.Tests.Interop;

/// <summary>
/// Our KVM structs, kvm_run offsets, ioctl numbers and constants against the kernel's own: a C program compiled
/// here against linux/kvm.h prints sizeof/offsetof of every struct and field we pass to or read from KVM, the
/// request macros and the constants, and each must equal what our types give. Needs no /dev/kvm.
/// </summary>
public sealed class KvmAbiTests
{
    static readonly Lazy<Dictionary<string, ulong>> KernelValues = new(CompileAndRunProbe);

    /// Where a field of an exit struct lies in kvm_run: our exit structs are read at RunExitInfoOffset.
    static ulong InRun<T>(string field) where T : unmanaged => (ulong)KvmAbi.RunExitInfoOffset + Offset<T>(field);

    public static TheoryData<string, ulong> OurValues() => new()
    {
        { "sizeof(struct kvm_userspace_memory_region)", Size<KvmUserspaceMemoryRegion>() },
        { "offsetof(struct kvm_userspace_memory_region, slot)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Slot)) },
        { "offsetof(struct kvm_userspace_memory_region, flags)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Flags)) },
        { "offsetof(struct kvm_userspace_memory_region, guest_phys_addr)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.GuestPhysAddr)) },
        { "offsetof(struct kvm_userspace_memory_region, memory_size)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.MemorySize)) },
        { "offsetof(struct kvm_userspace_memory_region, userspace_addr)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr)) },

        { "sizeof(struct kvm_regs)", Size<KvmRegs>() },
        { "offsetof(struct kvm_regs, rax)", Offset<KvmRegs>(nameof(KvmRegs.Rax)) },
        { "offsetof(struct kvm_regs, rbx)", Offset<KvmRegs>(nameof(KvmRegs.Rbx)) },
        { "offsetof(struct kvm_regs, rcx)", Offset<KvmRegs>(nameof(KvmRegs.Rcx)) },
        { "offsetof(struct kvm_regs, rdx)", Offset<KvmRegs>(nameof(KvmRegs.Rdx)) },
        { "offsetof(struct kvm_regs, rsi)", Offset<KvmRegs>(nameof(KvmRegs.Rsi)) },
        { "offsetof(struct kvm_regs, rdi)", Offset<KvmRegs>(nameof(KvmRegs.Rdi)) },
        { "offsetof(struct kvm_regs, rsp)", Offset<KvmRegs>(nameof(KvmRegs.Rsp)) },
        { "offsetof(struct kvm_regs, rbp)", Offset<KvmRegs>(nameof(KvmRegs.Rbp)) },
        { "offsetof(struct kvm_regs, r8)", Offset<KvmRegs>(nameof(KvmRegs.R8)) },
        { "offsetof(struct kvm_regs, r9)", Offset<KvmRegs>(nameof(KvmRegs.R9)) },
        { "offsetof(struct kvm_regs, r10)", Offset<KvmRegs>(nameof(KvmRegs.R10)) },
        { "offsetof(struct kvm_regs, r11)", Offset<KvmRegs>(nameof(KvmRegs.R11)) },
        { "offsetof(struct kvm_regs, r12)", Offset<KvmRegs>(nameof(KvmRegs.R12)) },
        { "offsetof(struct kvm_regs, r13)", Offset<KvmRegs>(nameof(KvmRegs.R13)) },
        { "offsetof(struct kvm_regs, r14)", Offset<KvmRegs>(nameof(KvmRegs.R14)) },
        { "offsetof(struct kvm_regs, r15)", Offset<KvmRegs>(nameof(KvmRegs.R15)) },
        { "offsetof(struct kvm_regs, rip)", Offset<KvmRegs>(nameof(KvmRegs.Rip)) },
        { "offsetof(struct kvm_regs, rflags)", Offset<KvmRegs>(nameof(KvmRegs.Rflags)) },

        { "sizeof(struct kvm_segment)", Size<KvmSegment>() },
        { "offsetof(struct kvm_segment, base)", Offset<KvmSegment>(nameof(KvmSegment.Base)) },
        { "offsetof(struct kvm_segment, limit)", Offset<KvmSegment>(nameof(KvmSegment.Limit)) },
        { "offsetof(struct kvm_segment, selector)", Offset<KvmSegment>(nameof(KvmSegment.Selector)) },
        { "offsetof(struct kvm_segment, type)", Offset<KvmSegment>(nameof(KvmSegment.Type)) },
        { "offsetof(struct kvm_segment, present)", Offset<KvmSegment>(nameof(KvmSegment.Present)) },
        { "offsetof(struct kvm_segment, dpl)", Offset<KvmSegment>(nameof(KvmSegment.Dpl)) },
        { "offsetof(struct kvm_segment, db)", Offset<KvmSegment>(nameof(KvmSegment.Db)) },
        { "offsetof(struct kvm_segment, s)", Offset<KvmSegment>(nameof(KvmSegment.S)) },
        { "offsetof(struct kvm_segment, l)", Offset<KvmSegment>(nameof(KvmSegment.L)) },
        { "offsetof(struct kvm_segment, g)", Offset<KvmSegment>(nameof(KvmSegment.G)) },
        { "offsetof(struct kvm_segment, avl)", Offset<KvmSegment>(nameof(KvmSegment.Avl)) },
        { "offsetof(struct kvm_segment, unusable)", Offset<KvmSegment>(nameof(KvmSegment.Unusable)) },

        { "sizeof(struct kvm_dtable)", Size<KvmDtable>() },
        { "offsetof(struct kvm_dtable, base)", Offset<KvmDtable>(nameof(KvmDtable.Base)) },
        { "offsetof(struct kvm_dtable, limit)", Offset<KvmDtable>(nameof(KvmDtable.Limit)) },

        { "sizeof(struct kvm_sregs)", Size<KvmSregs>() },
        { "offsetof(struct kvm_sregs, cs)", Offset<KvmSregs>(nameof(KvmSregs.Cs)) },
        { "offsetof(struct kvm_sregs, ds)", Offset<KvmSregs>(nameof(KvmSregs.Ds)) },
        { "offsetof(struct kvm_sregs, es)", Offset<KvmSregs>(nameof(KvmSregs.Es)) },
        { "offsetof(struct kvm_sregs, fs)", Offset<KvmSregs>(nameof(KvmSregs.Fs)) },
        { "offsetof(struct kvm_sregs, gs)", Offset<KvmSregs>(nameof(KvmSregs.Gs)) },
        { "offsetof(struct kvm_sregs, ss)", Offset<KvmSregs>(nameof(KvmSregs.Ss)) },
        { "offsetof(struct kvm_sregs, tr)", Offset<KvmSregs>(nameof(KvmSregs.Tr)) },
        { "offsetof(struct kvm_sregs, ldt)", Offset<KvmSregs>(nameof(KvmSregs.Ldt)) },
        { "offsetof(struct kvm_sregs, gdt)", Offset<KvmSregs>(nameof(KvmSregs.Gdt)) },
        { "offsetof(struct kvm_sregs, idt)", Offset<KvmSregs>(nameof(KvmSregs.Idt)) },
        { "offsetof(struct kvm_sregs, cr0)", Offset<KvmSregs>(nameof(KvmSregs.Cr0)) },
        { "offsetof(struct kvm_sregs, cr2)", Offset<KvmSregs>(nameof(KvmSregs.Cr2)) },
        { "offsetof(struct kvm_sregs, cr3)", Offset<KvmSregs>(nameof(KvmSregs.Cr3)) },
        { "offsetof(struct kvm_sregs, cr4)", Offset<KvmSregs>(nameof(KvmSregs.Cr4)) },
        { "offsetof(struct kvm_sregs, cr8)", Offset<KvmSregs>(nameof(KvmSregs.Cr8)) },
        { "offsetof(struct kvm_sregs, efer)", Offset<KvmSregs>(nameof(KvmSregs.Efer)) },
        { "offsetof(struct kvm_sregs, apic_base)", Offset<KvmSregs>(nameof(KvmSregs.ApicBase)) },
        { "offsetof(struct kvm_sregs, interrupt_bitmap)", Offset<KvmSregs>(nameof(KvmSregs.InterruptBitmap)) },

        { "sizeof(struct kvm_cpuid_entry2)", Size<KvmCpuidEntry2>() },
        { "offsetof(struct kvm_cpuid_entry2, function)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Function)) },
        { "offsetof(struct kvm_cpuid_entry2, index)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Index)) },
        { "offsetof(struct kvm_cpuid_entry2, flags)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Flags)) },
        { "offsetof(struct kvm_cpuid_entry2, eax)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Eax)) },
        { "offsetof(struct kvm_cpuid_entry2, ebx)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Ebx)) },
        { "offsetof(struct kvm_cpuid_entry2, ecx)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Ecx)) },
        { "offsetof(struct kvm_cpuid_entry2, edx)", Offset<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Edx)) },
        { "sizeof(struct kvm_cpuid2)", KvmAbi.Cpuid2HeaderSize },
        { "offsetof(struct kvm_cpuid2, entries)", KvmAbi.Cpuid2HeaderSize },

        { "sizeof(struct kvm_msr_entry)", Size<KvmMsrEntry>() },
        { "offsetof(struct kvm_msr_entry, index)", Offset<KvmMsrEntry>(nameof(KvmMsrEntry.Index)) },
        { "offsetof(struct kvm_msr_entry, data)", Offset<KvmMsrEntry>(nameof(KvmMsrEntry.Data)) },
        { "sizeof(struct kvm_msrs)", KvmAbi.MsrsHeaderSize },
        { "offsetof(struct kvm_msrs, entries)", KvmAbi.MsrsHeaderSize },

        { "sizeof(struct kvm_pit_config)", Size<KvmPitConfig>() },
        { "offsetof(struct kvm_pit_config, flags)", Offset<KvmPitConfig>(nameof(KvmPitConfig.Flags)) },

        { "sizeof(struct kvm_fpu)", Size<KvmFpu>() },
        { "offsetof(struct kvm_fpu, fpr)", Offset<KvmFpu>(nameof(KvmFpu.Fpr)) },
        { "offsetof(struct kvm_fpu, fcw)", Offset<KvmFpu>(nameof(KvmFpu.Fcw)) },
        { "offsetof(struct kvm_fpu, fsw)", Offset<KvmFpu>(nameof(KvmFpu.Fsw)) },
        { "offsetof(struct kvm_fpu, ftwx)", Offset<KvmFpu>(nameof(KvmFpu.Ftwx)) },
        { "offsetof(struct kvm_fpu, last_opcode)", Offset<KvmFpu>(nameof(KvmFpu.LastOpcode)) },
        { "offsetof(struct kvm_fpu, last_ip)", Offset<KvmFpu>(nameof(KvmFpu.LastIp)) },
        { "offsetof(struct kvm_fpu, last_dp)", Offset<KvmFpu>(nameof(KvmFpu.LastDp)) },
        { "offsetof(struct kvm_fpu, xmm)", Offset<KvmFpu>(nameof(KvmFpu.Xmm)) },
        { "offsetof(struct kvm_fpu, mxcsr)", Offset<KvmFpu>(nameof(KvmFpu.Mxcsr)) },

        { "sizeof(struct kvm_irqchip)", Size<KvmIrqchip>() },
        { "offsetof(struct kvm_irqchip, chip_id)", Offset<KvmIrqchip>(nameof(KvmIrqchip.ChipId)) },
        { "offsetof(struct kvm_irqchip, chip)", Offset<KvmIrqchip>(nameof(KvmIrqchip.State)) },

        { "sizeof(struct kvm_lapic_state)", KvmAbi.LapicStateSize },

        { "offsetof(struct kvm_run, immediate_exit)", (ulong)KvmAbi.RunImmediateExitOffset },
        { "offsetof(struct kvm_run, exit_reason)", (ulong)KvmAbi.RunExitReasonOffset },
        { "sizeof(((struct kvm_run *)0)->io)", Size<KvmExitIo>() },
        { "offsetof(struct kvm_run, io.direction)", InRun<KvmExitIo>(nameof(KvmExitIo.Direction)) },
        { "offsetof(struct kvm_run, io.size)", InRun<KvmExitIo>(nameof(KvmExitIo.Size)) },
        { "offsetof(struct kvm_run, io.port)", InRun<KvmExitIo>(nameof(KvmExitIo.Port)) },
        { "offsetof(struct kvm_run, io.count)", InRun<KvmExitIo>(nameof(KvmExitIo.Count)) },
        { "offsetof(struct kvm_run, io.data_offset)", InRun<KvmExitIo>(nameof(KvmExitIo.DataOffset)) },
        { "sizeof(((struct kvm_run *)0)->mmio)", Size<KvmExitMmio>() },
        { "offsetof(struct kvm_run, mmio.phys_addr)", InRun<KvmExitMmio>(nameof(KvmExitMmio.PhysAddr)) },
        { "offsetof(struct kvm_run, mmio.data)", InRun<KvmExitMmio>(nameof(KvmExitMmio.Data)) },
        { "offsetof(struct kvm_run, mmio.len)", InRun<KvmExitMmio>(nameof(KvmExitMmio.Len)) },
        { "offsetof(struct kvm_run, mmio.is_write)", InRun<KvmExitMmio>(nameof(KvmExitMmio.IsWrite)) },
        { "sizeof(((struct kvm_run *)0)->internal)", Size<KvmExitInternalError>() },
        { "offsetof(struct kvm_run, internal.suberror)", InRun<KvmExitInternalError>(nameof(KvmExitInternalError.Suberror)) },
        { "offsetof(struct kvm_run, internal.ndata)", InRun<KvmExitInternalError>(nameof(KvmExitInternalError.DataCount)) },
        { "offsetof(struct kvm_run, internal.data)", InRun<KvmExitInternalError>(nameof(KvmExitInternalError.Data)) },
        // KvmVcpu reads these two as the first word of the exit union.
        { "offsetof(struct kvm_run, system_event.type)", (ulong)KvmAbi.RunExitInfoOffset },
        { "offsetof(struct kvm_run, fail_entry.hardware_entry_failure_reason)", (ulong)KvmAbi.RunExitInfoOffset },

        { "KVM_GET_API_VERSION", KvmIoctl.GetApiVersion },
        { "KVM_CREATE_VM", KvmIoctl.CreateVm },
        { "KVM_CHECK_EXTENSION", KvmIoctl.CheckExtension },
        { "KVM_GET_VCPU_MMAP_SIZE", KvmIoctl.GetVcpuMmapSize },
        { "KVM_GET_SUPPORTED_CPUID", KvmIoctl.GetSupportedCpuid },
        { "KVM_CREATE_VCPU", KvmIoctl.CreateVcpu },
        { "KVM_SET_USER_MEMORY_REGION", KvmIoctl.SetUserMemoryRegion },
        { "KVM_SET_TSS_ADDR", KvmIoctl.SetTssAddr },
        { "KVM_SET_IDENTITY_MAP_ADDR", KvmIoctl.SetIdentityMapAddr },
        { "KVM_CREATE_IRQCHIP", KvmIoctl.CreateIrqchip },
        { "KVM_IRQ_LINE", KvmIoctl.IrqLine },
        { "KVM_GET_IRQCHIP", KvmIoctl.GetIrqchip },
        { "KVM_SET_IRQCHIP", KvmIoctl.SetIrqchip },
        { "KVM_CREATE_PIT2", KvmIoctl.CreatePit2 },
        { "KVM_RUN", KvmIoctl.Run },
        { "KVM_GET_REGS", KvmIoctl.GetRegs },
        { "KVM_SET_REGS", KvmIoctl.SetRegs },
        { "KVM_GET_SREGS", KvmIoctl.GetSregs },
        { "KVM_SET_SREGS", KvmIoctl.SetSregs },
        { "KVM_GET_MSRS", KvmIoctl.GetMsrs },
        { "KVM_SET_MSRS", KvmIoctl.SetMsrs },
        { "KVM_GET_FPU", KvmIoctl.GetFpu },
        { "KVM_SET_FPU", KvmIoctl.SetFpu },
        { "KVM_GET_LAPIC", KvmIoctl.GetLapic },
        { "KVM_SET_LAPIC", KvmIoctl.SetLapic },
        { "KVM_SET_CPUID2", KvmIoctl.SetCpuid2 },
        { "KVM_GET_MP_STATE", KvmIoctl.GetMpState },
        { "KVM_SET_MP_STATE", KvmIoctl.SetMpState },

        { "KVM_EXIT_IO", (ulong)KvmExitReason.Io },
        { "KVM_EXIT_HLT", (ulong)KvmExitReason.Hlt },
        { "KVM_EXIT_MMIO", (ulong)KvmExitReason.Mmio },
        { "KVM_EXIT_SHUTDOWN", (ulong)KvmExitReason.Shutdown },
        { "KVM_EXIT_FAIL_ENTRY", (ulong)KvmExitReason.FailEntry },
        { "KVM_EXIT_INTERNAL_ERROR", (ulong)KvmExitReason.InternalError },
        { "KVM_EXIT_SYSTEM_EVENT", (ulong)KvmExitReason.SystemEvent },
        { "KVM_EXIT_IO_IN", KvmExitIo.DirectionIn },
        { "KVM_EXIT_IO_OUT", KvmExitIo.DirectionOut },
        { "KVM_MP_STATE_UNINITIALIZED", (ulong)KvmMpState.Uninitialized },
        { "KVM_MP_STATE_RUNNABLE", (ulong)KvmMpState.Runnable },
    };

    [Theory]
    [MemberData(nameof(OurValues))]
    public void Matches_linux_kvm_h(string expression, ulong ours)
    {
        Assert.True(KernelValues.Value.TryGetValue(expression, out var kernel), $"the probe did not print {expression}");
        Assert.True(kernel == ours, $"{expression}: kernel says 0x{kernel:X}, we say 0x{ours:X}");
    }

    static Dictionary<string, ulong> CompileAndRunProbe() =>
        KernelHeaderValues.Evaluate(["linux/kvm.h"], OurValues().Select(row => (string)row[0]));
}
