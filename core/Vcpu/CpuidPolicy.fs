/// What each vCPU's CPUID says about itself, so that it agrees with the MADT and SRAT (APIC ID = CPU index).
/// The host's supported leaves are kept; only the per-CPU identity fields are rewritten.
module SsiHv.Core.Vcpu.CpuidPolicy

type Leaf = { Function: uint32; Index: uint32; Eax: uint32; Ebx: uint32; Ecx: uint32; Edx: uint32 }

/// Leaf 1 EBX[31:24]: initial APIC ID; without this KVM reports the host CPU's (DESIGN.md §5).
let private withInitialApicId (apicId: uint32) (leaf: Leaf) =
    { leaf with Ebx = (leaf.Ebx &&& 0x00FFFFFFu) ||| ((apicId &&& 0xFFu) <<< 24) }

/// Leaves 0xB and 0x1F EDX: the full x2APIC ID, for every subleaf.
let private withX2ApicId (apicId: uint32) (leaf: Leaf) = { leaf with Edx = apicId }

let forCpu (apicId: uint32) (leaves: Leaf list) : Leaf list =
    leaves
    |> List.map (fun leaf ->
        match leaf.Function with
        | 0x1u -> withInitialApicId apicId leaf
        | 0xBu | 0x1Fu -> withX2ApicId apicId leaf
        | _ -> leaf)
