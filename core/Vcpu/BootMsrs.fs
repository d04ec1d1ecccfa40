/// The model-specific registers every vCPU starts with, as Firecracker and Cloud Hypervisor set them for a
/// 64-bit Linux guest: syscall/sysenter entry points cleared (the guest sets its own), fast string operations
/// enabled, and the memory type default write-back with MTRRs on so guest RAM is cacheable.
module SsiHv.Core.Vcpu.BootMsrs

let ia32SysenterCs = 0x174u
let ia32SysenterEsp = 0x175u
let ia32SysenterEip = 0x176u
let star = 0xC0000081u
let lstar = 0xC0000082u
let cstar = 0xC0000083u
let syscallMask = 0xC0000084u
let kernelGsBase = 0xC0000102u
let ia32MiscEnable = 0x1A0u
let ia32MtrrDefType = 0x2FFu
let ia32TimeStampCounter = 0x10u

/// IA32_MISC_ENABLE bit 0: fast-string operations.
let miscEnableFastString = 1UL
/// IA32_MTRR_DEF_TYPE: MTRRs enabled (bit 11), default type write-back (6).
let mtrrEnabledWriteBack = (1UL <<< 11) ||| 6UL

/// (MSR index, value) pairs, in the order they are written.
let forBoot : (uint32 * uint64) list =
    [ ia32SysenterCs, 0UL
      ia32SysenterEsp, 0UL
      ia32SysenterEip, 0UL
      star, 0UL
      lstar, 0UL
      cstar, 0UL
      syscallMask, 0UL
      kernelGsBase, 0UL
      ia32MiscEnable, miscEnableFastString
      ia32MtrrDefType, mtrrEnabledWriteBack ]

/// Written to every vCPU one after another once all exist, as QEMU does at reset: KVM treats TSC writes of
/// the same value less than a second apart as one synchronization, so every vCPU gets the same TSC offset.
/// vCPUs created further apart (a slow host, a lab machine) would otherwise keep different TSCs, and KVM gives
/// Linux's kvm-clock no stable master clock: its CPUs then disagree about the time and the boot stalls.
let synchronizeTimeStampCounters : (uint32 * uint64) list = [ ia32TimeStampCounter, 0UL ]
