/// How guest memory is spread over the home nodes right now, read from the pager's state: what GET /v1/pages,
/// /metrics and the `ssihv up` summary report per node. Pure, so the shell can take the pager's latest
/// (immutable) state from any thread and count it without stopping the pager.
module SsiHv.Core.Paging.Census

open SsiHv.Core.Topology
open SsiHv.Core.Paging.Pager

/// One node's share of the touched guest pages. Untouched pages are zeroes homed nowhere yet.
type HomeCensus =
    { /// Touched pages homed on the node.
      Homed: uint64
      /// Of those, pages mapped in guest memory here (clean, dirty, or being written back).
      Resident: uint64
      /// Pages whose newest bytes the node's page store holds (also while a resident copy is clean).
      Stored: uint64
      /// Of those, pages not mapped here: a guest access must fetch them from the node.
      Remote: uint64 }

let private none = { Homed = 0UL; Resident = 0UL; Stored = 0UL; Remote = 0UL }

let private isResident (pageState: PageState) =
    match pageState with
    | ResidentClean _ | ResidentDirty _ | WritingBack _ -> true
    | Absent _ | AwaitingFrame _ | Fetching _ | MovingHome _ -> false

/// The node whose store holds the page's newest bytes, if any does (a dirty page's only copy is in guest memory).
let private heldBy (pageState: PageState) =
    match pageState with
    | Absent(HeldBy node) | AwaitingFrame((EarlyFetch(node, _) | FetchedEarly node), _) | ResidentClean(HeldBy node, _) -> Some node
    | Fetching fetch -> Some fetch.Source
    | MovingHome move -> Some move.From
    | Absent Zeroes | AwaitingFrame(AwaitedZeroes, _) | ResidentClean(Zeroes, _) | ResidentDirty _ | WritingBack _ -> None

let private add (node: NodeId) (change: HomeCensus -> HomeCensus) (census: Map<NodeId, HomeCensus>) =
    census |> Map.add node (change (census |> Map.tryFind node |> Option.defaultValue none))

/// Every node that homes or holds a touched page, with its counts.
let ofState (state: PagerState) : Map<NodeId, HomeCensus> =
    state.Pages
    |> PageMap.fold
        (fun census _ record ->
            let resident = isResident record.State
            let census = census |> add record.Home (fun c -> { c with Homed = c.Homed + 1UL; Resident = c.Resident + (if resident then 1UL else 0UL) })
            match heldBy record.State with
            | Some holder -> census |> add holder (fun c -> { c with Stored = c.Stored + 1UL; Remote = c.Remote + (if resident then 0UL else 1UL) })
            | None -> census)
        Map.empty
