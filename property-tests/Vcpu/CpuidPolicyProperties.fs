module SsiHv.PropertyTests.Vcpu.CpuidPolicyProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Vcpu
open SsiHv.Core.Vcpu.CpuidPolicy

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// A host-like set of leaves: 1, 4 (two cache subleaves), 0xB and 0x1F (three subleaves each) and one other.
let private hostLeaves =
    let leaf f i : Leaf = { Function = f; Index = i; Eax = 0xDEADu; Ebx = 0xBEEFu; Ecx = 0xF00Du; Edx = 0xCAFEu }
    [ leaf 0x0u 0u; leaf 0x1u 0u; leaf 0x4u 0u; leaf 0x4u 1u ]
    @ [ for f in [ 0xBu; 0x1Fu ] do for i in 0u .. 2u -> leaf f i ]
    @ [ leaf 0x80000001u 0u ]

let private cpuAndCount = gen {
    let! count = Gen.choose (1, 1024)
    let! apic = Gen.choose (0, count - 1)
    return count, uint32 apic }

let tests =
    testList "CPUID identity" [
        testPropertyWithConfig config "every vCPU's CPUID agrees with MADT/SRAT: its APIC ID and a topology that holds every CPU" <|
            Prop.forAll (Arb.fromGen cpuAndCount) (fun (count, apic) ->
                let leaves = CpuidPolicy.forCpu count apic hostLeaves
                let find f i = leaves |> List.find (fun l -> l.Function = f && l.Index = i)
                let leaf1 = find 0x1u 0u
                let core = find 0xBu 1u
                let smt = find 0xBu 0u
                leaf1.Ebx >>> 24 = (apic &&& 0xFFu)
                && leaf1.Edx &&& (1u <<< 28) <> 0u
                && (leaves |> List.filter (fun l -> l.Function = 0xBu || l.Function = 0x1Fu) |> List.forall (fun l -> l.Edx = apic))
                && smt.Ebx = 1u && (smt.Ecx >>> 8) &&& 0xFFu = 1u
                && core.Ebx = uint32 count && (1 <<< int core.Eax) >= count && (core.Ecx >>> 8) &&& 0xFFu = 2u
                && (find 0xBu 2u).Ecx >>> 8 = 0u
                && find 0x80000001u 0u = (hostLeaves |> List.find (fun l -> l.Function = 0x80000001u)))

        testCase "4 CPUs use 2 core-ID bits" <| fun () ->
            Expect.equal (CpuidPolicy.coreIdBits 4) 2 "bits"
            Expect.equal (CpuidPolicy.coreIdBits 5) 3 "bits"
            Expect.equal (CpuidPolicy.coreIdBits 1) 0 "bits"

        testPropertyWithConfig config "only RIP FFF0 with CS F000 based at FFFF0000 is a vCPU just reset" <|
            fun (rip: uint64) (selector: uint16) (csBase: uint64) ->
                SsiHv.Core.Vcpu.ResetState.isResetState 0xFFF0UL 0xF000us 0xFFFF0000UL
                && SsiHv.Core.Vcpu.ResetState.isResetState rip selector csBase = (rip = 0xFFF0UL && selector = 0xF000us && csBase = 0xFFFF0000UL)
    ]
