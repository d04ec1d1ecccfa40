module SsiHv.PropertyTests.Devices.DeviceBusProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Devices

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

/// Small ranges in a small space, so that overlaps, neighbours and gaps all happen often.
let private candidates (spans: (byte * byte) list) =
    spans |> List.map (fun (first, length) -> (uint64 (first % 64uy), uint64 (length % 8uy)))

/// Attaches every candidate it can, in order, each numbered by its position; the refused ones are dropped.
let private build spans =
    candidates spans
    |> List.indexed
    |> List.fold (fun bus (index, (first, length)) ->
        match DeviceBus.BusRange.create first length |> Result.bind (fun range -> DeviceBus.attach range index bus) with
        | Ok bigger -> bigger
        | Error _ -> bus) DeviceBus.empty

let tests =
    testList "device bus" [
        testPropertyWithConfig config "a range joins exactly when no address of it is claimed already" <|
            fun (spans: (byte * byte) list) (first: byte) (length: byte) ->
                let bus = build spans
                let first, length = uint64 (first % 64uy), uint64 (length % 8uy) + 1UL
                let range = DeviceBus.BusRange.create first length |> Result.defaultWith failwith
                let claimed = [ first .. first + length - 1UL ] |> List.exists (fun a -> DeviceBus.find a bus |> ValueOption.isSome)
                (DeviceBus.attach range -1 bus |> Result.isOk) = not claimed
        testPropertyWithConfig config "every address is found in the one range that holds it, at its offset there, or nowhere" <|
            fun (spans: (byte * byte) list) ->
                let bus = build spans
                [ 0UL .. 80UL ] |> List.forall (fun address ->
                    let holders = DeviceBus.attached bus |> List.filter (fst >> DeviceBus.BusRange.contains address)
                    match DeviceBus.find address bus, holders with
                    | ValueNone, [] -> true
                    | ValueSome(struct (device, offset)), [ range, holder ] ->
                        device = holder && offset = address - DeviceBus.BusRange.first range
                    | _ -> false)
        test "empty ranges and ranges past the end of the address space are refused with the address" {
            Expect.equal (DeviceBus.BusRange.create 0x10UL 0UL) (Error "an empty range at 0x10 claims nothing") "empty"
            Expect.equal (DeviceBus.BusRange.create System.UInt64.MaxValue 2UL)
                (Error "a range of 2 bytes at 0xFFFFFFFFFFFFFFFF runs past the end of the address space") "wraps"
            Expect.isOk (DeviceBus.BusRange.create System.UInt64.MaxValue 1UL) "the last address is a range of its own"
        }
        test "an overlap names the new range and the one already attached" {
            let range first length = DeviceBus.BusRange.create first length |> Result.defaultWith failwith
            let bus = DeviceBus.empty |> DeviceBus.attach (range 0x3F8UL 8UL) "COM1" |> Result.defaultWith failwith
            Expect.equal (DeviceBus.attach (range 0x3FFUL 2UL) "other" bus) (Error "0x3FF-0x400 overlaps 0x3F8-0x3FF, already attached") "overlap"
        }
    ]
