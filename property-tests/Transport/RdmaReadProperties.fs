module SsiHv.PropertyTests.Transport.RdmaReadProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

/// A page of a few cells, its version word, and the home's stores: store k makes the version odd, writes k into
/// every cell one at a time, and makes it even again.
type private Home = { Version: uint64; Cells: int[] }

type private Step =
    | Bump
    | WriteCell of cell: int * value: int

let private storeSteps cells k = Bump :: List.init cells (fun c -> WriteCell(c, k)) @ [ Bump ]

let private apply home step =
    match step with
    | Bump -> { home with Version = home.Version + 1UL }
    | WriteCell(c, value) -> { home with Cells = Array.updateAt c value home.Cells }

/// Runs the requester's fenced reads (version, each cell, version) against stores interleaved by `schedule`
/// (true: the home takes its next step; once the schedule ends, the reader runs to the end). Returns (version
/// before, cells read, version after, whether any store step ran between the two version reads).
let private fetch cells (schedule: bool list) =
    let writer = Seq.initInfinite (fun k -> storeSteps cells (k + 1)) |> Seq.concat |> Seq.cache
    let rec run home writerAt readerAt schedule before read overlapped =
        match schedule with
        | true :: rest -> run (apply home (Seq.item writerAt writer)) (writerAt + 1) readerAt rest before read (overlapped || readerAt > 0)
        | _ ->
            let rest = match schedule with [] -> [] | _ :: rest -> rest
            if readerAt = 0 then run home writerAt 1 rest home.Version read overlapped
            elif readerAt <= cells then run home writerAt (readerAt + 1) rest before (home.Cells.[readerAt - 1] :: read) overlapped
            else before, List.rev read, home.Version, overlapped
    run { Version = 0UL; Cells = Array.zeroCreate cells } 0 0 schedule 0UL [] false

let private schedules = Gen.zip (Gen.choose (1, 6)) (ArbMap.defaults |> ArbMap.generate<bool list>)

let tests =
    testList "RdmaRead" [
        testPropertyWithConfig config "a read judged consistent holds one store's whole page, whatever the interleaving" <|
            Prop.forAll (Arb.fromGen schedules) (fun (cells, schedule) ->
                let before, read, after, _ = fetch cells schedule
                not (RdmaRead.isConsistent before after) || (List.distinct read).Length = 1)

        testPropertyWithConfig config "a read no store step overlapped is accepted unless it began inside a store" <|
            Prop.forAll (Arb.fromGen schedules) (fun (cells, schedule) ->
                let before, _, after, overlapped = fetch cells schedule
                overlapped || RdmaRead.isConsistent before after = (before % 2UL = 0UL))

        testPropertyWithConfig config "a slot is located only inside both announced regions" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose64 (-5L, 100L)) (Gen.choose (0, 50)) (Gen.choose (0, 50)))) (fun (slot, pageSlots, versionSlots) ->
                match RdmaRead.locate slot (uint64 pageSlots * 4096UL) (uint64 versionSlots * 8UL) with
                | Ok(page, version) -> slot >= 0L && slot < int64 pageSlots && slot < int64 versionSlots && page = uint64 slot * 4096UL && version = uint64 slot * 8UL
                | Error _ -> slot < 0L || slot >= int64 pageSlots || slot >= int64 versionSlots)

        testPropertyWithConfig config "the path MTU is the smaller valid MTU, and an invalid one is refused" <|
            Prop.forAll (Arb.fromGen (Gen.zip (ArbMap.defaults |> ArbMap.generate<byte>) (ArbMap.defaults |> ArbMap.generate<byte>))) (fun (local, remote) ->
                match RdmaRead.pathMtu local remote with
                | Ok mtu -> mtu = min local remote && local >= 1uy && local <= 5uy && remote >= 1uy && remote <= 5uy
                | Error _ -> local < 1uy || local > 5uy || remote < 1uy || remote > 5uy)

        testProperty "the RoCE v2 GID of an IPv4 address is found at its index in a port's table, and only there" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.arrayOfLength 4 (ArbMap.defaults |> ArbMap.generate<byte>)) (Gen.choose (0, 7)) (Gen.choose (1, 8)))) (fun (ipv4, at, length) ->
                let at = at % length
                let other index = match Gid.tryCreate (Array.init 16 (fun i -> byte (0xFE + i * index))) with Ok g -> g | Error e -> failwith e
                let mapped = (Gid.ofIPv4 ipv4).Value
                let table = [ for i in 0 .. length - 1 -> i, (if i = at then mapped else other i) ]
                let without = table |> List.filter (fun (i, _) -> i <> at)
                Gid.toArray mapped = Array.concat [ Array.zeroCreate 10; [| 0xFFuy; 0xFFuy |]; ipv4 ]
                && Gid.indexForIPv4 table ipv4 = Some at
                && Gid.indexForIPv4 without ipv4 = None
                && Gid.ofIPv4 [| 1uy; 2uy; 3uy |] = None)
    ]
