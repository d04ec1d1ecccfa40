module SsiHv.PropertyTests.Cluster.NodeLimitsProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Cluster

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let tests =
    testList "node limits" [
        testPropertyWithConfig config "a node host runs at its hard open-files limit when that covers every connection it allows" <|
            Prop.forAll (Arb.fromGen (Gen.choose (0, 100_000) |> Gen.map uint64)) (fun hard ->
                match NodeLimits.openFiles hard with
                | Ok limit -> limit = hard && hard >= uint64 (NodeLimits.HttpConnections + NodeLimits.TransportConnections)
                | Error text -> hard < uint64 NodeLimits.openFilesNeeded && text.Contains(sprintf "is %d;" hard))

        test "the refusal says what the limit is, what is needed and how to raise it" {
            Expect.equal (NodeLimits.openFiles 1024UL)
                (Error "the open-files limit (RLIMIT_NOFILE) is 1024; a node host needs at least 2304 (1024 HTTP connections, 256 transport connections, 1024 of its own): raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit)")
                "1024, a common default"
        }
    ]
