module SsiHv.PropertyTests.Vcpu.CpuidPolicyProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Vcpu
open SsiHv.Core.Vcpu.CpuidPolicy

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// A host-like set of leaves: 1, 4 (two cache subleaves), 0xB and 0x1F (three subleaves each), AMD's 0x80000008
/// and 0x8000001E, KVM's two and one that stays as it is.
let private hostLeaves =
    let leaf f i : Leaf = { Function = f; Index = i; Eax = 0xDEADu; Ebx = 0xBEEFu; Ecx = 0xF00Du; Edx = 0xCAFEu }
    [ leaf 0x0u 0u; leaf 0x1u 0u; leaf 0x4u 0u; leaf 0x4u 1u ]
    @ [ for f in [ 0xBu; 0x1Fu ] do for i in 0u .. 2u -> leaf f i ]
    @ [ leaf 0x80000001u 0u; leaf 0x80000008u 0u; leaf 0x8000001Eu 0u; leaf 0x40000000u 0u; leaf 0x40000001u 0u ]

let tests =
    testList "CPUID identity" [
        testPropertyWithConfig config "every vCPU's CPUID names its APIC ID, makes it a package of its own, says a hypervisor is present and keeps KVM's signature" <|
            fun (apic: uint32) ->
                let leaves = CpuidPolicy.forCpu apic hostLeaves
                let find f i = leaves |> List.find (fun l -> l.Function = f && l.Index = i)
                let leaf1 = find 0x1u 0u
                let core = find 0xBu 1u
                let smt = find 0xBu 0u
                leaf1.Ebx >>> 24 = (apic &&& 0xFFu)
                && (leaf1.Ebx >>> 16) &&& 0xFFu = 1u
                && leaf1.Edx &&& (1u <<< 28) <> 0u
                && leaf1.Ecx = (0xF00Du ||| CpuidPolicy.hypervisorPresent)
                && (leaves |> List.filter (fun l -> l.Function = 0xBu || l.Function = 0x1Fu) |> List.forall (fun l -> l.Edx = apic))
                && smt.Ebx = 1u && smt.Eax = 0u && (smt.Ecx >>> 8) &&& 0xFFu = 1u
                && core.Ebx = 1u && core.Eax = 0u && (core.Ecx >>> 8) &&& 0xFFu = 2u
                && (find 0xBu 2u).Ecx >>> 8 = 0u
                && (find 0x4u 0u).Eax >>> 14 = 0u
                && (find 0x80000008u 0u).Ecx = (0xF00Du &&& ~~~0xF0FFu)
                && (find 0x8000001Eu 0u) = { (find 0x8000001Eu 0u) with Eax = apic; Ebx = apic &&& 0xFFu; Ecx = 0u }
                && [ 0x80000001u; 0x40000000u ]
                   |> List.forall (fun f -> find f 0u = (hostLeaves |> List.find (fun l -> l.Function = f)))

        testPropertyWithConfig config "of KVM's paravirtual features vCPUs are offered kvm-clock, port 0x80 without delay and the stable-clock flag, when KVM has them" <|
            fun (supported: uint32) ->
                let kvm : Leaf = { Function = 0x40000001u; Index = 0u; Eax = supported; Ebx = 1u; Ecx = 2u; Edx = 3u }
                let offered = (CpuidPolicy.forCpu 0u [ kvm ]).Head
                let bits = [ 0; 1; 3; 24 ] |> List.fold (fun mask bit -> mask ||| (1u <<< bit)) 0u
                offered = { kvm with Eax = supported &&& bits }

        testPropertyWithConfig config "no cache is shared between vCPUs, whatever the host's cache leaves say" <|
            fun (leaf4Eax: uint32) (amdCacheEax: uint32) ->
                let leaf f eax : Leaf = { Function = f; Index = 3u; Eax = eax; Ebx = 1u; Ecx = 2u; Edx = 3u }
                let leaves = CpuidPolicy.forCpu 0u [ leaf 0x4u leaf4Eax; leaf 0x8000001Du amdCacheEax ]
                let sharing (l: Leaf) = (l.Eax >>> 14) &&& 0xFFFu
                leaves |> List.forall (fun l -> sharing l = 0u && l.Ebx = 1u && l.Ecx = 2u && l.Edx = 3u)
                && leaves.[0].Eax = (leaf4Eax &&& 0x3FFFu)
                && leaves.[1].Eax = (amdCacheEax &&& ~~~(0xFFFu <<< 14))

        testPropertyWithConfig config "the L3 of leaf 0x80000006 is hidden exactly on AMD family 17h models 0-1Fh, whose LLC Linux takes from APIC IDs" <|
            fun (model: byte) (amd: bool) ->
                // Leaf 1 EAX of family 17h (base 0xF + extended 0x8) with the given model.
                let eax = (0x8u <<< 20) ||| (uint32 (model >>> 4) <<< 16) ||| (0xFu <<< 8) ||| (uint32 (model &&& 0xFuy) <<< 4)
                let vendor : Leaf =
                    if amd then { Function = 0u; Index = 0u; Eax = 0x10u; Ebx = 0x68747541u; Edx = 0x69746E65u; Ecx = 0x444D4163u }
                    else { Function = 0u; Index = 0u; Eax = 0x10u; Ebx = 0x756E6547u; Edx = 0x49656E69u; Ecx = 0x6C65746Eu }
                let l3 : Leaf = { Function = 0x80000006u; Index = 0u; Eax = 0u; Ebx = 0u; Ecx = 0x02006140u; Edx = 0x04008140u }
                let leaves = CpuidPolicy.forCpu 1u [ vendor; { l3 with Function = 1u; Edx = 0u; Ecx = 0u; Eax = eax }; l3 ]
                let edx = (leaves |> List.find (fun l -> l.Function = 0x80000006u)).Edx
                CpuidPolicy.familyAndModel eax = (0x17u, uint32 model)
                && (edx = 0u) = (amd && model <= 0x1Fuy)
                && (edx = 0u || edx = l3.Edx)

        testCase "family and model of known CPUs" <| fun () ->
            Expect.equal (CpuidPolicy.familyAndModel 0x00800F12u) (0x17u, 0x01u) "QEMU's EPYC"
            Expect.equal (CpuidPolicy.familyAndModel 0x000906EAu) (0x6u, 0x9Eu) "Intel Coffee Lake"
            Expect.equal (CpuidPolicy.familyAndModel 0x00A00F11u) (0x19u, 0x01u) "AMD Milan"

        testPropertyWithConfig config "only RIP FFF0 with CS F000 based at FFFF0000 is a vCPU just reset" <|
            fun (rip: uint64) (selector: uint16) (csBase: uint64) ->
                SsiHv.Core.Vcpu.ResetState.isResetState 0xFFF0UL 0xF000us 0xFFFF0000UL
                && SsiHv.Core.Vcpu.ResetState.isResetState rip selector csBase = (rip = 0xFFF0UL && selector = 0xF000us && csBase = 0xFFFF0000UL)
    ]
