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
    let page = Gen.choose (0, 9) |> Gen.map (uint64 >> PageNumber)
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

/// The ring keeps no slots: the pager keeps them in its page records. Here a map stands for those records.
type private Slots = Map<PageNumber, Clock.Slot>

let private slotOf (slots: Slots) (page: PageNumber) =
    match slots.TryGetValue page with
    | true, slot -> ValueSome slot
    | _ -> ValueNone

let private withSlot (page: PageNumber) (slot: Clock.Slot) (slots: Slots) = Map.add page slot slots

let private isReferenced (slots: Slots) (page: PageNumber) = slotOf slots page |> ValueOption.exists Clock.isReferenced

/// What the pager does: a page already in the ring is only referenced; a victim is evicted, which takes its
/// slot away and tells the ring.
let private runClock ((ring, slots): Clock.Ring * Slots, victims) command =
    match command with
    | Insert p ->
        match slotOf slots p with
        | ValueSome slot -> (ring, withSlot p (Clock.referenced slot) slots), victims
        | ValueNone ->
            let struct (slot, ring) = Clock.insert p ring
            (ring, withSlot p slot slots), victims
    | Reference p ->
        match slotOf slots p with
        | ValueSome slot -> (ring, withSlot p (Clock.referenced slot) slots), victims
        | ValueNone -> (ring, slots), victims
    | Remove p when Map.containsKey p slots ->
        let slots = Map.remove p slots
        (Clock.removed slotOf slots ring, slots), victims
    | Remove _ -> (ring, slots), victims
    | ChooseVictim ->
        match Clock.chooseVictim slotOf withSlot slots ring with
        | ValueSome(struct (victim, slots, ring)) ->
            let slots = Map.remove victim slots
            (Clock.removed slotOf slots ring, slots), Some victim :: victims
        | ValueNone -> (ring, slots), None :: victims

let private pagesOf (ring, slots) = Clock.pages slotOf slots ring

let tests =
    testList "clock" [
        testPropertyWithConfig config "behaves as the textbook second-chance list" <|
            Prop.forAll (Arb.fromGen commands) (fun commands ->
                let ring, expectedVictims = commands |> List.fold runReference ([], [])
                let clock, victims = commands |> List.fold runClock ((Clock.empty, Map.empty), [])
                victims = expectedVictims
                && pagesOf clock = List.map fst ring
                && ring |> List.forall (fun (p, r) -> isReferenced (snd clock) p = r))

        testPropertyWithConfig config "the victim was unreferenced whenever an unreferenced page existed, and is at the hand" <|
            Prop.forAll (Arb.fromGen commands) (fun commands ->
                let (ring, slots), _ = commands |> List.fold runClock ((Clock.empty, Map.empty), [])
                let pages = pagesOf (ring, slots)
                match Clock.chooseVictim slotOf withSlot slots ring with
                | ValueNone -> List.isEmpty pages
                | ValueSome(struct (victim, slotsAfter, ringAfter)) ->
                    let someUnreferenced = pages |> List.exists (not << isReferenced slots)
                    let remaining = Map.remove victim slotsAfter
                    (not someUnreferenced || not (isReferenced slots victim))
                    && List.tryHead (pagesOf (ringAfter, slotsAfter)) = Some victim
                    && List.sort (pagesOf (ringAfter, slotsAfter)) = List.sort pages
                    && List.sort (pagesOf (Clock.removed slotOf remaining ringAfter, remaining))
                       = List.sort (pages |> List.filter ((<>) victim)))
    ]
