module SsiHv.PropertyTests.Cluster.RejoinProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster.Membership
open SsiHv.Core.Cluster.Rejoin

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private seen =
    Gen.oneof
        [ Gen.elements [ Joining; Active; Draining; Left; Lost ] |> Gen.map Listed
          Gen.constant NotListed
          Gen.elements [ "Connection refused (127.0.0.1:8100)"; "GET /v1/cluster answered 503" ] |> Gen.map NoAnswer ]

let tests =
    testList "rejoin" [
        testPropertyWithConfig config "the back-off starts at 1 s, doubles, never passes 30 s and never shrinks" <|
            Prop.forAll (Arb.fromGen (Gen.choose (1, Int32.MaxValue - 1))) (fun attempt ->
                let d, next = delay attempt, delay (attempt + 1)
                d >= firstDelay && d <= maximumDelay && next >= d
                && (next = maximumDelay || next = d * 2.0))

        test "the schedule" {
            Expect.equal ([ 1..8 ] |> List.map (fun a -> (delay a).TotalSeconds)) [ 1.0; 2.0; 4.0; 8.0; 16.0; 30.0; 30.0; 30.0 ] "1 s doubling to 30 s"
        }

        testPropertyWithConfig config "a lost or unlisted node joins again, a left one stays out, a member stays, silence waits; each reason names the node and the boot node" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 64)) seen)) (fun (self, seen) ->
                let url = "http://127.0.0.1:8100"
                let names (reason: string) = reason.Contains url && (reason.Contains(sprintf "node %d " self) || reason.Contains "did not answer")
                match seen, judge (NodeId self) url seen with
                | Listed(Joining | Active | Draining), StillMember -> true
                | (Listed Lost | NotListed), JoinAgain reason -> names reason && reason.EndsWith "joining again"
                | Listed Left, StayOut reason -> names reason
                | NoAnswer why, BootUnreachable reason -> names reason && reason.EndsWith why
                | _ -> false)
    ]
