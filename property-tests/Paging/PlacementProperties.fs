module SsiHv.PropertyTests.Paging.PlacementProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Memory
open SsiHv.Core.Paging
open SsiHv.Core.Paging.Placement
open SsiHv.PropertyTests.Memory.LayoutProperties

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// A small machine: 1-4 nodes of 0-6 pages each (at least one with memory), every node id in order.
let private smallPlacement =
    gen {
        let! sizes = Gen.choose (0, 6) |> Gen.map uint64 |> Gen.nonEmptyListOf |> Gen.map (List.truncate 4)
        let sizes = if List.sum sizes = 0UL then 1UL :: List.tail sizes else sizes
        let! policy = Gen.elements [ FirstTouch; Bind; Interleave ]
        let ranges =
            sizes
            |> List.mapi (fun node count -> NodeId node, count)
            |> List.filter (fun (_, count) -> count > 0UL)
            |> List.mapFold (fun first (node, count) -> { Node = node; First = PageNumber first; Count = count }, first + count) 0UL
            |> fst
        return { Policy = policy; Capacity = ranges |> List.map (fun r -> r.Node, r.Count); Ranges = ranges }, List.length sizes
    }

let private guestPages (placement: Placement) = placement.Ranges |> List.collect (fun r -> [ for page in r.First.Value .. r.First.Value + r.Count - 1UL -> PageNumber page ])

/// Homes every guest page in the given touch order, as the pager does on first faults.
let private homeAll (placement: Placement) (touches: (PageNumber * NodeId) list) =
    touches
    |> List.fold (fun (homed, homes) (page, node) ->
        match home placement homed page node with
        | Ok h -> NodeMap.add h (homedOn homed h + 1UL) homed, (page, Ok h) :: homes
        | Error e -> homed, (page, Error e) :: homes) (NodeMap.empty, [])
    |> fun (homed, homes) -> homed, List.rev homes

let private touchOrder =
    gen {
        let! placement, nodeCount = smallPlacement
        let! order = Gen.shuffle (guestPages placement |> List.toArray)
        let! touchers = Gen.listOfLength order.Length (Gen.choose (0, nodeCount - 1) |> Gen.map NodeId)
        return placement, List.zip (List.ofArray order) touchers
    }

let tests =
    testList "placement" [
        testPropertyWithConfig config "every guest page gets a home and no node homes more than its capacity" <|
            Prop.forAll (Arb.fromGen touchOrder) (fun (placement, touches) ->
                let homed, homes = homeAll placement touches
                (homes |> List.forall (snd >> Result.isOk))
                && placement.Capacity |> List.forall (fun (node, capacity) -> homedOn homed node <= capacity))

        testPropertyWithConfig config "first touch homes on the toucher while it has room, else on the next node with room" <|
            Prop.forAll (Arb.fromGen touchOrder) (fun (placement, touches) ->
                let placement = { placement with Policy = FirstTouch }
                touches
                |> List.fold (fun (homed, ok) (page, toucher) ->
                    let chosen = home placement homed page toucher |> Result.defaultWith (fun e -> failwithf "%A" e)
                    let room node = placement.Capacity |> List.exists (fun (n, c) -> n = node && homedOn homed n < c)
                    let nodes = placement.Capacity |> List.map fst
                    // Nodes strictly between the toucher and the chosen node, going round in id order.
                    let skipped =
                        let after, before = nodes |> List.partition (fun n -> n >= toucher)
                        after @ before |> List.takeWhile (fun n -> n <> chosen)
                    let expected = room chosen && (chosen = toucher || (skipped |> List.forall (room >> not)))
                    NodeMap.add chosen (homedOn homed chosen + 1UL) homed, ok && expected) (NodeMap.empty, true)
                |> snd)

        testPropertyWithConfig config "bind homes every page on its SRAT node" <|
            Prop.forAll (Arb.fromGen touchOrder) (fun (placement, touches) ->
                let placement = { placement with Policy = Bind }
                let _, homes = homeAll placement touches
                homes |> List.forall (fun (page, h) -> h = Ok(sratNode placement page |> Option.get)))

        testPropertyWithConfig config "interleave homes page p on memory node p mod n when capacities are equal" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 4)) (Gen.choose (1, 5)))) (fun (nodes, pagesEach) ->
                let ranges = [ for n in 0 .. nodes - 1 -> { Node = NodeId n; First = PageNumber(uint64 (n * pagesEach)); Count = uint64 pagesEach } ]
                let placement = { Policy = Interleave; Capacity = ranges |> List.map (fun r -> r.Node, r.Count); Ranges = ranges }
                let touches = guestPages placement |> List.map (fun p -> p, NodeId 0)
                let _, homes = homeAll placement touches
                homes |> List.forall (fun (page, h) -> h = Ok(NodeId(int (page.Value % uint64 nodes)))))

        testCase "a page outside guest RAM has no home" <| fun () ->
            let placement = { Policy = FirstTouch; Capacity = [ NodeId 0, 2UL ]; Ranges = [ { Node = NodeId 0; First = PageNumber 0UL; Count = 2UL } ] }
            Expect.equal (home placement NodeMap.empty (PageNumber 2UL) (NodeId 0)) (Error(OutsideGuestRam(PageNumber 2UL))) "outside"

        testPropertyWithConfig config "ofTopology: each node homes exactly its SRAT pages and bind agrees with the layout" <|
            Prop.forAll (Arb.fromGen validTopology) (fun topology ->
                let placement = ofTopology Bind topology
                let capacityMatches =
                    placement.Capacity |> List.forall (fun (node, pages) ->
                        pages * Page.size = (Layout.rangesOfNode topology node |> List.sumBy (fun r -> r.Length)))
                let bindMatches =
                    Layout.ranges topology |> List.forall (fun r ->
                        [ r.Base; r.Base + r.Length - Page.size ]
                        |> List.forall (fun address -> sratNode placement (Page.ofAddress(GuestAddress address)) = Some r.Node))
                capacityMatches && bindMatches)
    ]
