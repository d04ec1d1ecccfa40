using System.Runtime.CompilerServices;
using SsiHv.Interop.Kvm;
using Xunit;

namespace SsiHv.Tests.Interop;

/// <summary>
/// Our struct layouts and ioctl numbers against the kernel's own: a C program compiled here against
/// linux/kvm.h prints sizeof/offsetof and the request macros, and every value must match.
/// </summary>
public sealed class KvmAbiTests
{
    static readonly Lazy<Dictionary<string, ulong>> KernelValues = new(CompileAndRunProbe);

    public static TheoryData<string, ulong> OurValues() => new()
    {
        { "sizeof(struct kvm_userspace_memory_region)", (ulong)Unsafe.SizeOf<KvmUserspaceMemoryRegion>() },
        { "sizeof(struct kvm_regs)", (ulong)Unsafe.SizeOf<KvmRegs>() },
        { "sizeof(struct kvm_sregs)", (ulong)Unsafe.SizeOf<KvmSregs>() },
        { "sizeof(struct kvm_segment)", (ulong)Unsafe.SizeOf<KvmSegment>() },
        { "sizeof(struct kvm_dtable)", (ulong)Unsafe.SizeOf<KvmDtable>() },
        { "sizeof(struct kvm_cpuid_entry2)", (ulong)Unsafe.SizeOf<KvmCpuidEntry2>() },
        { "sizeof(struct kvm_msr_entry)", (ulong)Unsafe.SizeOf<KvmMsrEntry>() },
        { "sizeof(struct kvm_pit_config)", (ulong)Unsafe.SizeOf<KvmPitConfig>() },
        { "sizeof(struct kvm_fpu)", (ulong)Unsafe.SizeOf<KvmFpu>() },
        { "offsetof(struct kvm_fpu, mxcsr)", 416 - 8 },
        { "sizeof(struct kvm_irqchip)", (ulong)Unsafe.SizeOf<KvmIrqchip>() },
        { "KVM_GET_IRQCHIP", KvmIoctl.GetIrqchip },
        { "KVM_SET_IRQCHIP", KvmIoctl.SetIrqchip },
        { "sizeof(struct kvm_lapic_state)", KvmAbi.LapicStateSize },
        { "sizeof(struct kvm_cpuid2)", KvmAbi.Cpuid2HeaderSize },
        { "sizeof(struct kvm_msrs)", KvmAbi.MsrsHeaderSize },
        { "offsetof(struct kvm_run, immediate_exit)", (ulong)KvmAbi.RunImmediateExitOffset },
        { "offsetof(struct kvm_run, exit_reason)", (ulong)KvmAbi.RunExitReasonOffset },
        { "offsetof(struct kvm_run, io)", (ulong)KvmAbi.RunExitInfoOffset },
        { "offsetof(struct kvm_run, io.data_offset) - offsetof(struct kvm_run, io)", 8 },
        { "offsetof(struct kvm_run, mmio.len) - offsetof(struct kvm_run, mmio)", 16 },
        { "offsetof(struct kvm_run, internal.data) - offsetof(struct kvm_run, internal)", 8 },
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
