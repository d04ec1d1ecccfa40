module SsiHv.PropertyTests.Paging.ClockProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Paging

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

type private ClockCommand =
    | Insert of PageNumber
    | Reference of PageNumber
    | Remove of PageNumber
    | ChooseVictim

let private commands =
    let page = Gen.choose (0, 9) |> Gen.map uint64
    Gen.frequency [ 4, Gen.map Insert page; 3, Gen.map Reference page; 1, Gen.map Remove page; 2, Gen.constant ChooseVictim ]
    |> Gen.listOf

/// The textbook second-chance FIFO on a plain list of (page, referenced), the hand at its head.
let rec private referenceVictim (ring: (PageNumber * bool) list) =
    match ring with
    | [] -> None, []
    | (page, true) :: rest -> referenceVictim (rest @ [ page, false ])
    | (page, false) :: rest -> Some page, rest

let private runReference (ring, victims) command =
    match command with
    | Insert p when ring |> List.exists (fst >> (=) p) -> ring |> List.map (fun (q, r) -> q, r || q = p), victims
    | Insert p -> ring @ [ p, true ], victims
    | Reference p -> ring |> List.map (fun (q, r) -> q, r || q = p), victims
    | Remove p -> ring |> List.filter (fst >> (<>) p), victims
    | ChooseVictim ->
        let victim, ring = referenceVictim ring
        ring, victim :: victims

let private runClock (clock, victims) command =
    match command with
    | Insert p -> Clock.insert p clock, victims
    | Reference p -> Clock.reference p clock, victims
    | Remove p -> Clock.remove p clock, victims
    | ChooseVictim ->
        match Clock.chooseVictim clock with
        | Some(victim, clock) -> clock, Some victim :: victims
        | None -> clock, None :: victims

let tests =
    testList "clock" [
        testPropertyWithConfig config "behaves as the textbook second-chance list" <|
            Prop.forAll (Arb.fromGen commands) (fun commands ->
                let ring, expectedVictims = commands |> List.fold runReference ([], [])
                let clock, victims = commands |> List.fold runClock (Clock.empty, [])
                victims = expectedVictims
                && Clock.pages clock = List.map fst ring
                && ring |> List.forall (fun (p, r) -> Clock.isReferenced p clock = r))

        testPropertyWithConfig config "the victim was unreferenced whenever an unreferenced page existed, and leaves the ring" <|
            Prop.forAll (Arb.fromGen commands) (fun commands ->
                let clock, _ = commands |> List.fold runClock (Clock.empty, [])
                let pages = Clock.pages clock
                match Clock.chooseVictim clock with
                | None -> List.isEmpty pages
                | Some(victim, after) ->
                    let someUnreferenced = pages |> List.exists (fun p -> not (Clock.isReferenced p clock))
                    (not someUnreferenced || not (Clock.isReferenced victim clock))
                    && not (Clock.contains victim after)
                    && List.sort (Clock.pages after) = List.sort (pages |> List.filter ((<>) victim)))
    ]
