module SsiHv.PropertyTests.Paging.CensusProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Paging
open SsiHv.Core.Paging.Placement
open SsiHv.Core.Paging.Pager
open SsiHv.Core.Paging.Census

/// Pages 0-7 are node 0's (the pager's own), 8-15 node 1's; bind homes each on its SRAT node.
let private config budget =
    let ranges = [ { Node = NodeId 0; First = PageNumber 0UL; Count = 8UL }; { Node = NodeId 1; First = PageNumber 8UL; Count = 8UL } ]
    let placement = { Policy = Bind; Capacity = ranges |> List.map (fun r -> r.Node, r.Count); Ranges = ranges }
    match PagerConfig.create (NodeId 0) budget placement with
    | Ok config -> config
    | Error e -> failwithf "%A" e

/// Steps the pager the way the shell does: every transfer it starts completes right away.
let rec private run (state: PagerState) (events: PagerEvent list) =
    match events with
    | [] -> state
    | event :: rest ->
        let next, actions = step state event
        let completions =
            actions
            |> List.choose (function
                | Fetch(page, _) -> Some(FetchDone page)
                | CopyOut(page, _) -> Some(WriteBackDone page)
                | _ -> None)
        run next (completions @ rest)

let private census budget events = Census.ofState (run (create (config budget)) events)

let private find node census = census |> Map.tryFind node |> Option.defaultValue { Homed = 0UL; Resident = 0UL; Stored = 0UL; Remote = 0UL }

/// Fault ids are the touch's position, unique as the kernel's fault messages are.
let private eventOf (index: int) (page: int, write: bool, evict: bool) =
    let page = PageNumber(uint64 (abs (page % 16)))
    if evict then EvictRequested page else Fault(FaultId(uint64 index), page, (if write then Write else Read))

let tests =
    testList "census" [
        test "a page written, evicted and written back counts as stored and remote at its home" {
            let c = census 4 [ Fault(FaultId 1UL, PageNumber 9UL, Write); EvictRequested(PageNumber 9UL) ]
            Expect.equal (find (NodeId 1) c) { Homed = 1UL; Resident = 0UL; Stored = 1UL; Remote = 1UL } "node 1 homes page 9, holds its bytes, and it is not mapped here"
            Expect.equal (find (NodeId 0) c) { Homed = 0UL; Resident = 0UL; Stored = 0UL; Remote = 0UL } "node 0 was not touched"
        }
        test "fetched back, the page is resident and its clean copy still stored at its home" {
            let c = census 4 [ Fault(FaultId 1UL, PageNumber 9UL, Write); EvictRequested(PageNumber 9UL); Fault(FaultId 2UL, PageNumber 9UL, Read) ]
            Expect.equal (find (NodeId 1) c) { Homed = 1UL; Resident = 1UL; Stored = 1UL; Remote = 0UL } "resident clean, also at node 1"
        }
        testProperty "every touched page has one home, residency stays within the budget and remote pages are stored ones" <| fun (budget: PositiveInt) (touches: (int * bool * bool) list) ->
            let budget = min budget.Get 20
            let state = run (create (config budget)) (touches |> List.mapi eventOf)
            let census = Census.ofState state
            let total select = census |> Map.toList |> List.sumBy (snd >> select)
            total (fun c -> c.Homed) = uint64 (PageMap.count state.Pages)
            && total (fun c -> c.Resident) <= uint64 budget
            && census |> Map.forall (fun _ c -> c.Remote <= c.Stored && c.Resident <= c.Homed)
    ]
