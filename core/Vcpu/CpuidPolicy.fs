/// What each vCPU's CPUID says about itself and the machine, so that it agrees with the MADT and SRAT: its APIC
/// ID is its CPU index, and every vCPU is a package of its own (one core, one thread, no cache shared with
/// another vCPU). vCPUs of different nodes run on different machines and share nothing; a package or
/// last-level cache that spanned two nodes would contradict the SRAT (Linux warns "llc-sibling ... is not on
/// the same node" and builds wrong scheduling domains), and with APIC ID = CPU index a package cannot follow
/// node boundaries in general. The NUMA structure is the SRAT's business. CPUID also says that a hypervisor is
/// present. The host's supported leaves are kept otherwise, among them KVM's own (0x40000000 "KVMKVMKVM",
/// 0x40000001 paravirtual features such as kvm-clock), which KVM_GET_SUPPORTED_CPUID lists with the features
/// this KVM implements in the kernel.
module SsiHv.Core.Vcpu.CpuidPolicy

type Leaf = { Function: uint32; Index: uint32; Eax: uint32; Ebx: uint32; Ecx: uint32; Edx: uint32 }

/// Leaf 0xB/0x1F level types (Intel SDM vol. 2A, CPUID leaf 0BH).
let private levelSmt, levelCore = 1u, 2u

/// Leaf 0xB/0x1F subleaf `index`: the SMT level and the core level, each one logical processor wide (so the
/// package ID is the whole APIC ID), then invalid.
let private topologyLevel (apicId: uint32) (leaf: Leaf) =
    match leaf.Index with
    | 0u -> { leaf with Eax = 0u; Ebx = 1u; Ecx = (levelSmt <<< 8) ||| 0u; Edx = apicId }
    | 1u -> { leaf with Eax = 0u; Ebx = 1u; Ecx = (levelCore <<< 8) ||| 1u; Edx = apicId }
    | index -> { leaf with Eax = 0u; Ebx = 0u; Ecx = index; Edx = apicId }

/// Leaf 1 ECX bit 31: "hypervisor present". KVM_GET_SUPPORTED_CPUID leaves it clear; every VMM sets it.
/// Linux reads the hypervisor leaves (0x40000000 up) only when it is set; without them it has no kvm-clock,
/// fails to calibrate the TSC against the PIT and hangs early in boot.
let hypervisorPresent = 1u <<< 31

/// Leaf 1: EBX[31:24] initial APIC ID (without this KVM reports the host CPU's) and EBX[23:16] the
/// addressable logical processors of the package (one); EDX bit 28 (HTT) says that field is valid.
let private featureLeaf (apicId: uint32) (leaf: Leaf) =
    { leaf with Ebx = (leaf.Ebx &&& 0x0000FFFFu) ||| (1u <<< 16) ||| ((apicId &&& 0xFFu) <<< 24)
                Ecx = leaf.Ecx ||| hypervisorPresent
                Edx = leaf.Edx ||| (1u <<< 28) }

/// EAX[25:14] of leaves 4 and 0x8000001D: the logical processors sharing this cache − 1.
let private sharingMask = 0xFFFu <<< 14
/// Leaf 4 EAX[31:26]: the addressable core IDs in the package − 1.
let private coresMask = 0x3Fu <<< 26

/// Leaf 4 (Intel deterministic cache parameters): one core in the package, no cache shared.
let private cacheLeaf (leaf: Leaf) = { leaf with Eax = leaf.Eax &&& ~~~(sharingMask ||| coresMask) }

/// Leaf 0x8000001D (AMD cache topology): no cache shared, as in leaf 4.
let private amdCacheLeaf (leaf: Leaf) = { leaf with Eax = leaf.Eax &&& ~~~sharingMask }

/// Leaf 0x80000008 ECX (AMD): NC (bits 7:0) the cores of the package − 1, ApicIdCoreIdSize (bits 15:12) the
/// APIC ID bits of the core: both 0, one core. Linux takes the package (and on AMD the first guess of the
/// last-level cache) from the APIC ID shifted by that size. Intel keeps these bits reserved as 0.
let private addressSizesLeaf (leaf: Leaf) = { leaf with Ecx = leaf.Ecx &&& ~~~0xF0FFu }

/// Leaf 0x8000001E (AMD extended APIC ID): the extended APIC ID, the core ID (= APIC ID, one thread per core)
/// and node 0 of a one-node package.
let private amdTopologyLeaf (apicId: uint32) (leaf: Leaf) =
    { leaf with Eax = apicId; Ebx = apicId &&& 0xFFu; Ecx = 0u }

/// Leaf 0x40000001 EAX bits (Linux's Documentation/virt/kvm/x86/cpuid.rst) that vCPUs are offered: kvm-clock
/// (both MSR sets), port 0x80 without delay, and the stable-clock flag. KVM also lists paravirtual spinlock
/// kicks, IPIs, TLB flushes, steal time, async page faults and more; those make one vCPU's progress depend on
/// hypercalls and host-written guest memory that a distributed VM cannot give the same meaning on every node,
/// and with them Linux deadlocked in the lab (both vCPUs spinning in native_queued_spin_lock_slowpath, one
/// on jiffies_lock).
module KvmFeatures =
    let clockSource = 1u <<< 0
    let noIoDelay = 1u <<< 1
    let clockSource2 = 1u <<< 3
    let clockSourceStable = 1u <<< 24
    let offered = clockSource ||| noIoDelay ||| clockSource2 ||| clockSourceStable

/// Leaf 0 EBX, EDX, ECX: "AuthenticAMD".
let private isAmd (leaves: Leaf list) =
    leaves |> List.exists (fun l -> l.Function = 0u && l.Ebx = 0x68747541u && l.Edx = 0x69746E65u && l.Ecx = 0x444D4163u)

/// Family and model from leaf 1 EAX (the extended fields count for families 6 and 0xF).
let familyAndModel (leaf1Eax: uint32) =
    let baseFamily = (leaf1Eax >>> 8) &&& 0xFu
    let baseModel = (leaf1Eax >>> 4) &&& 0xFu
    let family = if baseFamily = 0xFu then baseFamily + ((leaf1Eax >>> 20) &&& 0xFFu) else baseFamily
    let model = if baseFamily = 0xFu || baseFamily = 6u then (((leaf1Eax >>> 16) &&& 0xFu) <<< 4) ||| baseModel else baseModel
    family, model

/// AMD family 17h models 0-1Fh: Linux does not read their last-level cache's sharing from CPUID but takes
/// APIC ID bits 3 and up as the LLC ID, so CPUs 0-7 would share one LLC across nodes. Without an L3 in leaf
/// 0x80000006 EDX Linux keeps the LLC ID of the package, which is the vCPU's own.
let private llcFromApicIdBits (leaves: Leaf list) =
    isAmd leaves
    && leaves |> List.exists (fun l ->
        l.Function = 1u && (let family, model = familyAndModel l.Eax in family = 0x17u && model <= 0x1Fu))

let forCpu (apicId: uint32) (leaves: Leaf list) : Leaf list =
    let hideL3 = llcFromApicIdBits leaves
    leaves
    |> List.map (fun leaf ->
        match leaf.Function with
        | 0x1u -> featureLeaf apicId leaf
        | 0x4u -> cacheLeaf leaf
        | 0xBu | 0x1Fu -> topologyLevel apicId leaf
        | 0x80000006u when hideL3 -> { leaf with Edx = 0u }
        | 0x80000008u -> addressSizesLeaf leaf
        | 0x8000001Du -> amdCacheLeaf leaf
        | 0x8000001Eu -> amdTopologyLeaf apicId leaf
        | 0x40000001u -> { leaf with Eax = leaf.Eax &&& KvmFeatures.offered }
        | _ -> leaf)
