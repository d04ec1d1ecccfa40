module SsiHv.PropertyTests.Vm.StandaloneRunProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Vm
open SsiHv.Core.Vm.StandaloneRun

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private texts = Gen.elements [ "triple fault at rip 0x1000"; "vcpu 0: rip=0x1000\nvcpu 1: rip=0x2000"; "x" ]

let private outcomes =
    Gen.oneof
        [ Gen.elements [ PoweredOff; Reset ]
          Gen.map2 (fun seconds states -> TimedOut(TimeSpan.FromSeconds(float seconds), states)) (Gen.choose (1, 600)) texts
          Gen.map Crashed texts
          Gen.map Stopped texts ]

let tests =
    testList "ssihv run's end" [
        testPropertyWithConfig config "only a reset with --reboot boots again; otherwise the exit code is the cluster's" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.elements [ true; false ]) outcomes)) (fun (reboot, outcome) ->
                match decide reboot outcome, outcome with
                | BootAgain _, Reset -> reboot
                | BootAgain _, _ -> false
                | Exit(code, lines), _ -> not (reboot && outcome = Reset) && code = VmOutcome.exitCode outcome && not lines.IsEmpty)

        testPropertyWithConfig config "a failure's lines carry every line of its report" <|
            Prop.forAll (Arb.fromGen outcomes) (fun outcome ->
                match decide false outcome, outcome with
                | Exit(_, lines), (TimedOut(_, report) | Crashed report) -> List.tail lines = List.ofArray (report.Split '\n')
                | Exit(_, [ line ]), Stopped reason -> line.EndsWith reason
                | Exit(_, [ _ ]), (PoweredOff | Reset) -> true
                | _ -> false)

        test "each end reads as before" {
            Expect.equal (decide false PoweredOff) (Exit(0, [ "the guest powered off" ])) "power-off"
            Expect.equal (decide true Reset) (BootAgain "the guest reset; booting it again (--reboot)") "reset, --reboot"
            Expect.equal (decide false Reset) (Exit(0, [ "the guest reset (give --reboot to boot it again)" ])) "reset"
            Expect.equal (decide false (TimedOut(TimeSpan.FromSeconds 2.5, "vcpu 0: rip=0x1000")))
                (Exit(1, [ "the guest was still running after 2.5 s (--timeout); stopped it"; "vcpu 0: rip=0x1000" ])) "time-out"
            Expect.equal (decide false (Stopped "the pager stopped: EIO")) (Exit(1, [ "the VM was stopped: the pager stopped: EIO" ])) "stop"
        }
    ]
