/// What each vCPU's CPUID says about itself and the machine, so that it agrees with the MADT and SRAT: APIC ID
/// = CPU index, and a topology of one thread per core, all cores in one package (the NUMA structure is the
/// SRAT's business, not CPUID's). The host's supported leaves are kept otherwise.
module SsiHv.Core.Vcpu.CpuidPolicy

type Leaf = { Function: uint32; Index: uint32; Eax: uint32; Ebx: uint32; Ecx: uint32; Edx: uint32 }

/// Bits of the APIC ID that select the core: enough for every CPU index.
let coreIdBits (cpuCount: int) =
    let rec bits b = if (1 <<< b) >= cpuCount then b else bits (b + 1)
    bits 0

/// Leaf 0xB/0x1F level types (Intel SDM vol. 2A, CPUID leaf 0BH).
let private levelSmt, levelCore = 1u, 2u

/// Leaf 0xB/0x1F subleaf `index`: SMT level (one thread per core), core level (every CPU), then invalid.
let private topologyLevel (cpuCount: int) (apicId: uint32) (leaf: Leaf) =
    match leaf.Index with
    | 0u -> { leaf with Eax = 0u; Ebx = 1u; Ecx = (levelSmt <<< 8) ||| 0u; Edx = apicId }
    | 1u -> { leaf with Eax = uint32 (coreIdBits cpuCount); Ebx = uint32 cpuCount; Ecx = (levelCore <<< 8) ||| 1u; Edx = apicId }
    | index -> { leaf with Eax = 0u; Ebx = 0u; Ecx = index; Edx = apicId }

/// Leaf 1: EBX[31:24] initial APIC ID (without this KVM reports the host CPU's, DESIGN.md §5) and EBX[23:16]
/// the addressable logical processors of the package; EDX bit 28 (HTT) says that field is valid.
let private featureLeaf (cpuCount: int) (apicId: uint32) (leaf: Leaf) =
    let logical = uint32 (min 255 (1 <<< coreIdBits cpuCount))
    { leaf with Ebx = (leaf.Ebx &&& 0x0000FFFFu) ||| (logical <<< 16) ||| ((apicId &&& 0xFFu) <<< 24)
                Edx = leaf.Edx ||| (1u <<< 28) }

/// Leaf 4 EAX[31:26]: addressable core IDs in the package − 1, matching leaf 0xB's core level.
let private cacheLeaf (cpuCount: int) (leaf: Leaf) =
    let cores = uint32 (min 64 (1 <<< coreIdBits cpuCount))
    { leaf with Eax = (leaf.Eax &&& 0x03FFFFFFu) ||| ((cores - 1u) <<< 26) }

let forCpu (cpuCount: int) (apicId: uint32) (leaves: Leaf list) : Leaf list =
    leaves
    |> List.map (fun leaf ->
        match leaf.Function with
        | 0x1u -> featureLeaf cpuCount apicId leaf
        | 0x4u -> cacheLeaf cpuCount leaf
        | 0xBu | 0x1Fu -> topologyLevel cpuCount apicId leaf
        | _ -> leaf)
