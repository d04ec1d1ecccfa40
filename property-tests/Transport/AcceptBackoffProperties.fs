module SsiHv.PropertyTests.Transport.AcceptBackoffProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport
open SsiHv.Core.Transport.AcceptBackoff

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private failure = Gen.elements [ ResourcesExhausted; ConnectionAborted; OtherFailure ]

let tests =
    testList "accept back-off" [
        test "failures in a row wait 10 ms, then twice as long each time, up to 1 s" {
            let delays = [ 1..10 ] |> List.map delayMs
            Expect.equal delays [ 10L; 20L; 40L; 80L; 160L; 320L; 640L; 1000L; 1000L; 1000L ] "the schedule"
        }

        testPropertyWithConfig config "any run of failures waits between 10 ms and 1 s after each exhausting one, never longer than twice the wait before, and not at all after an aborted connection" <|
            Prop.forAll (Arb.fromGen (Gen.listOf failure)) (fun failures ->
                let step (inARow, previous, ok) failure =
                    let inARow, delay = after failure inARow
                    let fits =
                        match failure with
                        | ConnectionAborted -> inARow = 0 && delay = 0L
                        | ResourcesExhausted | OtherFailure ->
                            delay >= firstDelayMs && delay <= longestDelayMs && delay <= max firstDelayMs (2L * previous)
                            && (previous = 0L || delay >= previous)
                    inARow, delay, ok && fits
                let _, _, ok = failures |> List.fold step (0, 0L, true)
                ok)

        testPropertyWithConfig config "the delay never overflows, however long the run" <|
            Prop.forAll (Arb.fromGen (Gen.choose (1, System.Int32.MaxValue))) (fun inARow ->
                let delay = delayMs inARow
                delay >= firstDelayMs && delay <= longestDelayMs)
    ]
