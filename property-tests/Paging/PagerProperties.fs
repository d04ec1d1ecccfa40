/// Model-based tests of the pager. A generated command list drives both the real `Pager.step`, wrapped in a
/// simulated shell that performs its actions on a simulated guest memory and page stores the way userfaultfd
/// and the transport would (and rejects any action the kernel would refuse), and a trivial model: a map from
/// page to the last value written. vCPU threads access pages like hardware: without a fault when the mapping
/// allows it, otherwise they block until woken and then retry. Fault messages, fetch and write-back
/// completions and thread resumptions are delivered in any order the commands choose.
module SsiHv.PropertyTests.Paging.PagerProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Paging
open SsiHv.Core.Paging.Placement
open SsiHv.Core.Paging.Pager

let private localNode = NodeId 0
let private remoteNode = NodeId 1
let private guestPageCount = 8
let private threadCount = 3

/// Pages 0-3 are node 0's, 4-7 node 1's; with first touch, node 0 homes four pages and the rest spill to node 1.
let private placementFor policy =
    let ranges = [ { Node = NodeId 0; First = PageNumber 0UL; Count = 4UL }; { Node = NodeId 1; First = PageNumber 4UL; Count = 4UL } ]
    { Policy = policy; Capacity = ranges |> List.map (fun r -> r.Node, r.Count); Ranges = ranges }

type Command =
    | Touch of thread: int * page: int * write: bool
    | DeliverFault of int
    | CompleteFetch of int
    | CompleteWriteBack of int
    | Resume of int
    | Evict of page: int
    | RemoteWrite of page: int
    /// A memory node leaves; skipped when it already left or would move to itself.
    | MoveHomeOf of source: NodeId * target: NodeId
    | CompleteMove of int

/// `ReadAhead`: pages per aligned read-ahead block (0: off). `FreeFrames`: the free-frame target asked for
/// (the pager caps it to a quarter of the budget).
type Scenario = { Budget: int; Policy: PlacementPolicy; ReadAhead: int; FreeFrames: int; Commands: Command list }

/// An access a thread performs; `Write` carries the value, unique per write so that a stale read shows.
type ThreadAccess = { Page: PageNumber; Write: int option }

type ThreadState =
    | Idle
    | Blocked of ThreadAccess
    | Runnable of ThreadAccess

type Frame = { Value: int; Writable: bool }

type World =
    { Pager: PagerState
      Memory: Map<PageNumber, Frame>
      Stores: Map<NodeId * PageNumber, int>
      /// Fetches in flight with the bytes the source sent (read when the request left: the earliest moment).
      Fetches: (PageNumber * int) list
      /// Bytes handed over with FetchDone, held (as the shell holds its buffer) until Install or DiscardFetched.
      Arrived: Map<PageNumber, int>
      WriteBacks: (PageNumber * NodeId * int) list
      /// Store-to-store transfers in flight (page, from, to); the bytes are read when it completes.
      Transfers: (PageNumber * NodeId * NodeId) list
      /// Homes a MoveHome was fed for, to where (resolved, as the model sees it).
      Leaving: Map<NodeId, NodeId>
      /// Homes whose HomeMoved was performed: never read or written again.
      Departed: Set<NodeId>
      HomeMovedCount: Map<NodeId, int>
      /// Fault messages raised and not yet read by the pager, oldest first.
      Messages: (FaultId * PageNumber * Access) list
      Threads: Map<int, ThreadState>
      Delivered: Set<FaultId>
      Woken: Set<FaultId>
      RemoteWrites: Map<PageNumber, int list>
      Model: Map<PageNumber, int>
      NextFault: FaultId
      NextValue: int
      /// In the final drain a woken thread runs at once, as an idle host schedules it; before, it waits for a
      /// Resume command, so any interleaving is explored.
      RunWhenWoken: bool
      Violations: string list }

let private violation message (world: World) = { world with Violations = message :: world.Violations }

let private lastWritten page (world: World) = Map.tryFind page world.Model |> Option.defaultValue 0

/// What a vCPU does: the access completes if the mapping allows it, else faults.
let private attempt (thread: int) (access: ThreadAccess) (world: World) =
    let fault kind =
        { world with
            Messages = world.Messages @ [ world.NextFault, access.Page, kind ]
            NextFault = FaultId(world.NextFault.Value + 1UL)
            Threads = Map.add thread (Blocked access) world.Threads }
    let finished world = { world with Threads = Map.add thread Idle world.Threads }
    match Map.tryFind access.Page world.Memory, access.Write with
    | Some frame, None ->
        let expected = lastWritten access.Page world
        let world = finished world
        if frame.Value = expected then world
        else violation (sprintf "read of page %A returned %d, last written %d" access.Page frame.Value expected) world
    | Some frame, Some value when frame.Writable ->
        { finished world with
            Memory = Map.add access.Page { frame with Value = value } world.Memory
            Model = Map.add access.Page value world.Model }
    | Some _, Some _ -> fault Write
    | None, None -> fault Read
    | None, Some _ -> fault Write

let private homeOf page (world: World) = (PageMap.find page world.Pager.Pages).Home

/// The model's own statement of "this page still needs node n" (newest bytes there, or a transfer with it).
let private needs (node: NodeId) (state: PageState) =
    match state with
    | Absent(HeldBy n) | AwaitingFrame(FetchedEarly n, _) | ResidentClean(HeldBy n, _) -> n = node
    | AwaitingFrame(EarlyFetch(source, stale), _) -> source = node || stale = Some node
    | Fetching fetch -> fetch.Source = node || fetch.Stale = Some node
    | WritingBack writeBack -> writeBack.Target = node
    | MovingHome move -> move.From = node || move.To = node
    | _ -> false

let private readFrom node what (world: World) =
    if Set.contains node world.Departed then violation (sprintf "%s reads node %d after its HomeMoved" what node.Value) world else world

let private writeTo node what (world: World) =
    if Map.containsKey node world.Leaving then violation (sprintf "%s writes node %d after its MoveHome" what node.Value) world else world

let private install page protection value (world: World) =
    if Map.containsKey page world.Memory then violation (sprintf "page %A mapped twice (EEXIST)" page) world
    else { world with Memory = Map.add page { Value = value; Writable = (protection = Writable) } world.Memory }

let private whenMapped page what (change: Frame -> World) (world: World) =
    match Map.tryFind page world.Memory with
    | Some frame -> change frame
    | None -> violation (sprintf "%s of unmapped page %A" what page) world

/// Performs one action as the shell would, refusing what the kernel or transport would refuse.
let private perform (world: World) (action: PagerAction) : World =
    match action with
    | ZeroFill(page, protection) -> install page protection 0 world
    | Install(page, protection) ->
        match Map.tryFind page world.Arrived with
        | Some value -> install page protection value { world with Arrived = Map.remove page world.Arrived }
        | None -> violation (sprintf "install of page %A with no fetched bytes" page) world
    | DiscardFetched page ->
        if Map.containsKey page world.Arrived then { world with Arrived = Map.remove page world.Arrived }
        else violation (sprintf "discard of page %A with no fetched bytes" page) world
    | Fetch(page, source) ->
        if Map.containsKey page world.Memory || world.Fetches |> List.exists (fst >> (=) page) then
            violation (sprintf "fetch of page %A that is mapped or already in flight" page) world
        elif Map.containsKey page world.Arrived then
            violation (sprintf "fetch of page %A whose fetched bytes were neither installed nor discarded" page) world
        else
            let bytes = Map.tryFind (source, page) world.Stores |> Option.defaultValue 0
            { world with Fetches = world.Fetches @ [ page, bytes ] } |> readFrom source "fetch"
    | WriteProtect page ->
        world |> whenMapped page "write-protect" (fun frame -> { world with Memory = Map.add page { frame with Writable = false } world.Memory })
    | Unprotect page ->
        world |> whenMapped page "unprotect" (fun frame -> { world with Memory = Map.add page { frame with Writable = true } world.Memory })
    | CopyOut(page, target) ->
        world |> whenMapped page "copy-out" (fun frame ->
            if frame.Writable then violation (sprintf "copy-out of writable page %A" page) world
            else { world with WriteBacks = world.WriteBacks @ [ page, target, frame.Value ] } |> writeTo target "copy-out")
    | Drop page ->
        world |> whenMapped page "drop" (fun _ ->
            if world.WriteBacks |> List.exists (fun (p, _, _) -> p = page) then
                violation (sprintf "drop of page %A before its write-back finished" page) world
            else { world with Memory = Map.remove page world.Memory })
    | Wake(page, faults) ->
        let world =
            faults |> List.fold (fun (world: World) fault ->
                if not (Set.contains fault world.Delivered) then violation (sprintf "wake of undelivered fault %A" fault) world
                elif Set.contains fault world.Woken then violation (sprintf "fault %A woken twice" fault) world
                else { world with Woken = Set.add fault world.Woken }) world
        // UFFDIO_WAKE wakes every thread blocked on the page, including ones whose message is still queued.
        world.Threads
        |> Map.toList
        |> List.choose (fun (thread, state) -> match state with Blocked access when access.Page = page -> Some(thread, access) | _ -> None)
        |> List.fold (fun (world: World) (thread, access) ->
            if world.RunWhenWoken then attempt thread access world
            else { world with Threads = Map.add thread (Runnable access) world.Threads }) world
    | AcknowledgeInvalidate(page, _) ->
        if Map.containsKey page world.Memory then violation (sprintf "invalidation of page %A acknowledged while mapped" page) world
        else
            match Map.tryFind page world.RemoteWrites with
            | Some(value :: rest) ->
                { world with
                    RemoteWrites = Map.add page rest world.RemoteWrites
                    Stores = Map.add (homeOf page world, page) value world.Stores
                    Model = Map.add page value world.Model }
                |> writeTo (homeOf page world) "the acknowledged remote writer"
            | _ -> violation (sprintf "unrequested acknowledgement for page %A" page) world
    | MovePage(page, source, target) ->
        if Map.containsKey page world.Memory || world.Transfers |> List.exists (fun (p, _, _) -> p = page) then
            violation (sprintf "move of page %A that is mapped or already moving" page) world
        else { world with Transfers = world.Transfers @ [ page, source, target ] } |> readFrom source "move" |> writeTo target "move"
    | HomeMoved node ->
        let count = (Map.tryFind node world.HomeMovedCount |> Option.defaultValue 0) + 1
        let world = { world with HomeMovedCount = Map.add node count world.HomeMovedCount; Departed = Set.add node world.Departed }
        let stillNeeded = world.Pager.Pages |> PageMap.filter (fun _ r -> needs node r.State) |> PageMap.keys
        if not (Map.containsKey node world.Leaving) then violation (sprintf "HomeMoved %d without MoveHome" node.Value) world
        elif not (List.isEmpty stillNeeded) then violation (sprintf "HomeMoved %d while pages %A still need it" node.Value stillNeeded) world
        else world
    | Report error -> violation (sprintf "pager reported %A" error) world

let private countStates (predicate: PageState -> bool) (pager: PagerState) =
    pager.Pages |> PageMap.filter (fun _ r -> predicate r.State) |> PageMap.count

/// The pager's state and the simulated machine must describe the same pages.
let private checkConsistency (world: World) =
    let pager = world.Pager
    let budget = pager.Config.Budget
    let fetching page = world.Fetches |> List.exists (fst >> (=) page)
    let writingBack page = world.WriteBacks |> List.exists (fun (p, _, _) -> p = page)
    let pageProblems =
        pager.Pages |> PageMap.toList |> List.choose (fun (page, record) ->
            let mapped = Map.tryFind page world.Memory
            let ok =
                match record.State with
                | Absent _ | AwaitingFrame(AwaitedZeroes, _) -> mapped.IsNone && not (fetching page) && not (writingBack page)
                | AwaitingFrame(EarlyFetch _, _) | Fetching _ -> mapped.IsNone && fetching page && not (writingBack page)
                | AwaitingFrame(FetchedEarly _, _) -> mapped.IsNone && not (fetching page) && not (writingBack page)
                | ResidentClean _ -> (mapped |> Option.map (fun f -> not f.Writable)) = Some true && not (writingBack page)
                | ResidentDirty _ -> (mapped |> Option.map (fun f -> f.Writable)) = Some true && not (writingBack page)
                | WritingBack _ -> (mapped |> Option.map (fun f -> not f.Writable)) = Some true && writingBack page
                | MovingHome move ->
                    mapped.IsNone && not (fetching page) && not (writingBack page)
                    && world.Transfers |> List.contains (page, move.From, move.To)
            if ok then None else Some(sprintf "page %A is %A but mapped=%A" page record.State mapped))
    let isResident = function ResidentClean _ | ResidentDirty _ -> true | _ -> false
    let holdsFrame = function Fetching _ | ResidentClean _ | ResidentDirty _ | WritingBack _ -> true | _ -> false
    let pagesWhere predicate = pager.Pages |> PageMap.filter (fun _ r -> predicate r.State) |> PageMap.keys
    [ yield! pageProblems
      if world.Memory |> Map.exists (fun page _ -> not (PageMap.containsKey page pager.Pages)) then "a mapped page has no state"
      if world.Memory.Count > budget then sprintf "%d pages mapped, budget %d" world.Memory.Count budget
      if pager.FramesInUse <> countStates holdsFrame pager || pager.FramesInUse > budget then
          sprintf "frames in use %d, counted %d, budget %d" pager.FramesInUse (countStates holdsFrame pager) budget
      if pager.WriteBacksInFlight <> countStates (function WritingBack w -> w.Purpose = Eviction | _ -> false) pager then "write-back count drifted"
      if pager.FetchesInFlight <> countStates (function Fetching _ -> true | _ -> false) pager then "fetch count drifted"
      if FrameQueue.toList pager.AwaitingFrames |> List.sort <> pagesWhere (function AwaitingFrame _ -> true | _ -> false) then
          "frame queue and AwaitingFrame pages differ"
      if clockPages pager |> List.sort <> pagesWhere isResident then "clock ring and resident pages differ"
      // Fetched bytes are held exactly while the page waits for a frame with them: none leak, none are lost.
      if Map.keys world.Arrived |> List.ofSeq <> pagesWhere (function AwaitingFrame(FetchedEarly _, _) -> true | _ -> false) then
          sprintf "fetched bytes held for %A" (Map.keys world.Arrived |> List.ofSeq) ]
    |> List.fold (fun world problem -> violation problem world) world

/// Steps the event and performs its actions, then evicts ahead and performs those, as the shell does.
let private feed (event: PagerEvent) (world: World) =
    let pager, actions = step world.Pager event
    let world = actions |> List.fold perform { world with Pager = pager }
    let pager, ahead = evictAhead world.Pager
    let world = ahead |> List.fold perform { world with Pager = pager }
    checkConsistency world

let private nth index (items: 'a list) = if List.isEmpty items then None else Some(List.item (index % items.Length) items)
let private removeNth index (items: 'a list) = List.removeAt (index % items.Length) items

let private deliverFault index (world: World) =
    match nth index world.Messages with
    | None -> world
    | Some(fault, page, access) ->
        { world with Messages = removeNth index world.Messages; Delivered = Set.add fault world.Delivered }
        |> feed (Fault(fault, page, access))

let private completeFetch index (world: World) =
    match nth index world.Fetches with
    | None -> world
    | Some(page, bytes) ->
        { world with Fetches = removeNth index world.Fetches; Arrived = Map.add page bytes world.Arrived } |> feed (FetchDone page)

let private completeWriteBack index (world: World) =
    match nth index world.WriteBacks with
    | None -> world
    | Some(page, target, bytes) ->
        { world with WriteBacks = removeNth index world.WriteBacks; Stores = Map.add (target, page) bytes world.Stores }
        |> feed (WriteBackDone page)

let private completeMove index (world: World) =
    match nth index world.Transfers with
    | None -> world
    | Some(page, source, target) ->
        let bytes = Map.tryFind (source, page) world.Stores |> Option.defaultValue 0
        { world with Transfers = removeNth index world.Transfers; Stores = Map.add (target, page) bytes world.Stores }
        |> readFrom source "move completion"
        |> feed (MovePageDone page)

let private runnable (world: World) =
    world.Threads |> Map.toList |> List.choose (fun (thread, state) -> match state with Runnable a -> Some(thread, a) | _ -> None)

let private run (world: World) (command: Command) =
    match command with
    | Touch(thread, page, write) ->
        match Map.find thread world.Threads with
        | Idle ->
            let value = if write then Some world.NextValue else None
            attempt thread { Page = PageNumber(uint64 page); Write = value } { world with NextValue = world.NextValue + 1 }
        | _ -> world
    | DeliverFault index -> deliverFault index world
    | CompleteFetch index -> completeFetch index world
    | CompleteWriteBack index -> completeWriteBack index world
    | Resume index ->
        match nth index (runnable world) with
        | Some(thread, access) -> attempt thread access world
        | None -> world
    | Evict page -> feed (EvictRequested(PageNumber(uint64 page))) world
    | RemoteWrite page ->
        let page = PageNumber(uint64 page)
        let pending = Map.tryFind page world.RemoteWrites |> Option.defaultValue []
        { world with RemoteWrites = Map.add page (pending @ [ world.NextValue ]) world.RemoteWrites; NextValue = world.NextValue + 1 }
        |> feed (RemoteInvalidate(page, remoteNode))
    | MoveHomeOf(source, target) ->
        let resolved = Map.tryFind target world.Leaving |> Option.defaultValue target
        if Map.containsKey source world.Leaving || resolved = source then world
        else
            let leaving = world.Leaving |> Map.map (fun _ t -> if t = source then resolved else t) |> Map.add source resolved
            feed (MoveHome(source, target)) { world with Leaving = leaving }
    | CompleteMove index -> completeMove index world

/// Lets everything pending finish: threads run as soon as they are woken, messages and completions are
/// delivered oldest first. A fault that never gets woken, or a pager that never quiesces, is a violation.
let private drain (world: World) =
    let rec loop fuel (world: World) =
        if fuel = 0 then violation "did not quiesce" world
        else
            match runnable world, world.Messages, world.Fetches, world.WriteBacks, world.Transfers with
            | (thread, access) :: _, _, _, _, _ -> loop (fuel - 1) (attempt thread access world)
            | [], _ :: _, _, _, _ -> loop (fuel - 1) (deliverFault 0 world)
            | [], [], _ :: _, _, _ -> loop (fuel - 1) (completeFetch 0 world)
            | [], [], [], _ :: _, _ -> loop (fuel - 1) (completeWriteBack 0 world)
            | [], [], [], [], _ :: _ -> loop (fuel - 1) (completeMove 0 world)
            | [], [], [], [], [] -> world
    loop 10000 { world with RunWhenWoken = true }

let private newWorld (scenario: Scenario) =
    let config =
        PagerConfig.create localNode scenario.Budget (placementFor scenario.Policy)
        |> Result.defaultWith (fun e -> failwithf "%A" e)
        |> PagerConfig.withReadAhead scenario.ReadAhead
        |> PagerConfig.withFreeFrames scenario.FreeFrames
    { Pager = create config; Memory = Map.empty; Stores = Map.empty; Fetches = []; Arrived = Map.empty; WriteBacks = []
      Transfers = []; Leaving = Map.empty; Departed = Set.empty; HomeMovedCount = Map.empty
      Messages = []; Threads = Map.ofList [ for t in 0 .. threadCount - 1 -> t, Idle ]; Delivered = Set.empty
      Woken = Set.empty; RemoteWrites = Map.empty; Model = Map.empty; NextFault = FaultId 1UL; NextValue = 1
      RunWhenWoken = false; Violations = [] }

/// Runs the commands, drains, then reads every page through the pager once more.
let private simulate (scenario: Scenario) =
    let afterCommands = scenario.Commands |> List.fold run (newWorld scenario) |> drain
    let afterReads =
        [ 0 .. guestPageCount - 1 ]
        |> List.fold (fun world page -> run world (Touch(0, page, false)) |> drain) afterCommands
    let finalProblems =
        [ if afterReads.Threads |> Map.exists (fun _ s -> s <> Idle) then "a thread is still blocked after the drain"
          if afterReads.Woken <> afterReads.Delivered then
              sprintf "faults delivered but never woken: %A" (Set.difference afterReads.Delivered afterReads.Woken)
          if afterReads.RemoteWrites |> Map.exists (fun _ pending -> not (List.isEmpty pending)) then "an invalidation was never acknowledged"
          for source in Map.keys afterReads.Leaving do
              match Map.tryFind source afterReads.HomeMovedCount with
              | Some 1 -> ()
              | count -> sprintf "HomeMoved %d emitted %A times, expected once" source.Value count
              if afterReads.Pager.Pages |> PageMap.exists (fun _ r -> needs source r.State) then
                  sprintf "pages still need node %d after its move" source.Value
          for KeyValue(node, _) in afterReads.HomeMovedCount do
              if not (Map.containsKey node afterReads.Leaving) then sprintf "HomeMoved %d never asked for" node.Value ]
    afterReads, List.rev afterReads.Violations @ finalProblems

let private commandGen (allowRemote: bool) (allowMoves: bool) =
    let page = Gen.choose (0, guestPageCount - 1)
    let index = Gen.choose (0, 15)
    Gen.frequency [
        (if allowMoves then 1 else 0), Gen.map2 (fun s t -> MoveHomeOf(s, t)) (Gen.choose (0, 1) |> Gen.map NodeId) (Gen.choose (0, 2) |> Gen.map NodeId)
        (if allowMoves then 3 else 0), Gen.map CompleteMove index
        6, Gen.map3 (fun t p w -> Touch(t, p, w)) (Gen.choose (0, threadCount - 1)) page (Gen.elements [ false; true ])
        5, Gen.map DeliverFault index
        3, Gen.map CompleteFetch index
        3, Gen.map CompleteWriteBack index
        4, Gen.map Resume index
        2, Gen.map Evict page
        (if allowRemote then 2 else 0), Gen.map RemoteWrite page ]

let private scenarioGen allowRemote allowMoves =
    gen {
        let! budget = Gen.frequency [ 3, Gen.constant 1; 3, Gen.constant 2; 2, Gen.choose (3, 9) ]
        let! policy = Gen.elements [ FirstTouch; Bind; Interleave ]
        let! readAhead = Gen.elements [ 0; 0; 2; 4 ]
        let! freeFrames = Gen.elements [ 0; 1; 2; PagerConfig.DefaultFreeFrames ]
        let! length = Gen.choose (0, 120)
        let! commands = Gen.listOfLength length (commandGen allowRemote allowMoves)
        return { Budget = budget; Policy = policy; ReadAhead = readAhead; FreeFrames = freeFrames; Commands = commands }
    }

let private shrinkScenario (scenario: Scenario) =
    seq {
        for i in 0 .. scenario.Commands.Length - 1 -> { scenario with Commands = List.removeAt i scenario.Commands }
    }

let private scenarios allowRemote = Arb.fromGenShrink (scenarioGen allowRemote false, shrinkScenario)
let private scenariosWithMoves allowRemote = Arb.fromGenShrink (scenarioGen allowRemote true, shrinkScenario)

let private config = { FsCheckConfig.defaultConfig with maxTest = 1000 }

/// The example tests' pages and faults, by number.
let private pg (number: int) = PageNumber(uint64 number)
let private fault (number: int) = FaultId(uint64 number)

let private holds (check: World * string list -> bool) (scenario: Scenario) =
    let world, problems = simulate scenario
    check (world, problems) |> Prop.label (sprintf "%A" (List.truncate 5 problems))

let private noProblems (_, problems: string list) = List.isEmpty problems

let tests =
    testList "pager" [
        testList "model-based" [
            testPropertyWithConfig config "single node: reads see the last write, actions fit page states, budget holds, every fault woken once" <|
                Prop.forAll (scenarios false) (holds noProblems)
            testPropertyWithConfig config "with remote writes invalidating local copies: the same" <|
                Prop.forAll (scenarios true) (holds noProblems)
            testPropertyWithConfig config "homes leaving (MoveHome) amid faults, evictions and completions: reads see the last write, leaving homes are not written, HomeMoved exactly once and only when nothing needs the home" <|
                Prop.forAll (scenariosWithMoves false) (holds noProblems)
            testPropertyWithConfig config "homes leaving with remote writes invalidating local copies: the same" <|
                Prop.forAll (scenariosWithMoves true) (holds noProblems)
            testPropertyWithConfig config "after draining, at most budget pages are mapped" <|
                Prop.forAll (scenarios true) (holds (fun (world, _) -> world.Memory.Count <= world.Pager.Config.Budget))
            // Nothing is in flight after the drain, so every frame the last step's eviction ahead freed is free.
            testPropertyWithConfig config "after draining, at least the free-frame target (at most a quarter of the budget) is free" <|
                Prop.forAll (scenarios true) (holds (fun (world, _) ->
                    let target = world.Pager.Config.FreeFrames
                    target <= world.Pager.Config.Budget / 4 && world.Pager.Config.Budget - world.Memory.Count >= target))
        ]

        testCase "a dirty page is written back before it is dropped, and a clean one is just dropped" <| fun () ->
            let config = PagerConfig.create localNode 1 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
            let s0 = create config
            let s1, a1 = step s0 (Fault(fault 1, pg 0, Write))
            Expect.equal a1 [ ZeroFill(pg 0, Writable); Wake(pg 0, [ fault 1 ]) ] "first write zero-fills writable"
            let s2, a2 = step s1 (Fault(fault 2, pg 1, Read))
            Expect.equal a2 [ WriteProtect(pg 0); CopyOut(pg 0, NodeId 0) ] "budget full: the dirty victim is written back"
            let s3, a3 = step s2 (WriteBackDone(pg 0))
            Expect.equal a3 [ Drop(pg 0); ZeroFill(pg 1, WriteProtected); Wake(pg 1, [ fault 2 ]) ] "drop, then admit the waiting page"
            let _, a4 = step s3 (Fault(fault 3, pg 0, Read))
            Expect.equal a4 [ Fetch(pg 0, NodeId 0); Drop(pg 1) ] "the page is fetched back from home at once; the clean victim is dropped without copy-out"

        testPropertyWithConfig config "a fault on a page a node holds, with every frame dirty, fetches it in the same step as the victim's copy-out" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 6)) (Gen.elements [ FirstTouch; Bind; Interleave ]) (Gen.elements [ Read; Write ])))
                (fun (budget, policy, access) ->
                    let config =
                        PagerConfig.create localNode budget (placementFor policy) |> Result.defaultWith (failwithf "%A")
                        |> PagerConfig.withFreeFrames 0
                    let held = pg 7
                    // A remote write leaves the page absent here, its bytes at its home.
                    let invalidated, _ = step (create config) (RemoteInvalidate(held, remoteNode))
                    let full =
                        [ 0 .. budget - 1 ] |> List.fold (fun s page -> fst (step s (Fault(fault (page + 1), pg page, Write)))) invalidated
                    let home = (PageMap.find held full.Pages).Home
                    let _, actions = step full (Fault(fault 100, held, access))
                    let copiedOut = actions |> List.exists (function CopyOut(victim, _) -> victim <> held | _ -> false)
                    (List.contains (Fetch(held, home)) actions && copiedOut)
                    |> Prop.label (sprintf "budget %d, home %d: %A" budget home.Value actions))

        testCase "an early fetch completes before or after the victim's write-back; the page is installed once both are done" <| fun () ->
            let config = PagerConfig.create localNode 1 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
            let s1, _ = step (create config) (RemoteInvalidate(pg 5, NodeId 1))
            let s2, _ = step s1 (Fault(fault 1, pg 0, Write))
            let s3, a3 = step s2 (Fault(fault 2, pg 5, Read))
            let home = (PageMap.find(pg 5) s3.Pages).Home
            Expect.equal a3 [ Fetch(pg 5, home); WriteProtect(pg 0); CopyOut(pg 0, NodeId 0) ] "fetch and write-back start together"
            // Bytes first: kept until the frame is free.
            let s4, a4 = step s3 (FetchDone(pg 5))
            Expect.isEmpty a4 "no frame yet: the bytes wait"
            Expect.equal (stateOf(pg 5) s4) (Some(AwaitingFrame(FetchedEarly home, [ { Fault = fault 2; Access = Read } ]))) "arrived"
            let _, a5 = step s4 (WriteBackDone(pg 0))
            Expect.equal a5 [ Drop(pg 0); Install(pg 5, WriteProtected); Wake(pg 5, [ fault 2 ]) ] "installed as soon as the frame is free"
            // Frame first: the page is admitted to the fetch already in flight, without a second Fetch.
            let s4', a4' = step s3 (WriteBackDone(pg 0))
            Expect.equal a4' [ Drop(pg 0) ] "no second fetch"
            let _, a5' = step s4' (FetchDone(pg 5))
            Expect.equal a5' [ Install(pg 5, WriteProtected); Wake(pg 5, [ fault 2 ]) ] "installed when the bytes arrive"

        testCase "evicting ahead: once the budget is nearly full, a victim starts home after each fault's page is mapped and woken, so the next fault is installed as soon as its bytes arrive" <| fun () ->
            let config = PagerConfig.create localNode 4 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A") |> PagerConfig.withFreeFrames 1
            Expect.equal config.FreeFrames 1 "target"
            let held = pg 7
            let invalidated, _ = step (create config) (RemoteInvalidate(held, NodeId 1))
            let s1 = [ 0 .. 2 ] |> List.fold (fun s page -> fst (step s (Fault(fault (page + 1), pg page, Write)))) invalidated
            Expect.equal s1.FramesInUse 3 "three dirty pages, the target's one frame free"
            Expect.equal (snd (evictAhead s1)) [] "the target is free: nothing to evict ahead"
            let s2, a2 = step s1 (Fault(fault 4, pg 3, Write))
            Expect.equal a2 [ ZeroFill(pg 3, Writable); Wake(pg 3, [ fault 4 ]) ] "the last free frame is used at once"
            let s2, ahead2 = evictAhead s2
            Expect.equal ahead2 [ WriteProtect(pg 0); CopyOut(pg 0, NodeId 0) ] "then, after the wake, the oldest page starts home to free the next one"
            let home = (PageMap.find held s2.Pages).Home
            let s3, a3 = step s2 (WriteBackDone(pg 0))
            Expect.equal a3 [ Drop(pg 0) ] "the frame is free before the next fault"
            let s4, a4 = step s3 (Fault(fault 5, held, Read))
            Expect.equal a4 [ Fetch(held, home) ] "fetched into the free frame"
            Expect.equal (snd (evictAhead s4)) [] "no victim's copy-out competes with the reply the fault waits for"
            let s5, a5 = step s4 (FetchDone held)
            Expect.equal a5 [ Install(held, WriteProtected); Wake(held, [ fault 5 ]) ] "installed at once"
            Expect.equal (snd (evictAhead s5)) [ WriteProtect(pg 1); CopyOut(pg 1, NodeId 0) ] "and only then does the next victim start home"
            let unlimited = PagerConfig.create localNode 8 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A") |> PagerConfig.withFreeFrames 100
            Expect.equal unlimited.FreeFrames 2 "capped to a quarter of the budget"

        testCase "a write during write-back waits and cancels the eviction when the copy is home" <| fun () ->
            let config = PagerConfig.create localNode 4 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
            let s1, _ = step (create config) (Fault(fault 1, pg 0, Write))
            let s2, a2 = step s1 (EvictRequested(pg 0))
            Expect.equal a2 [ WriteProtect(pg 0); CopyOut(pg 0, NodeId 0) ] "write-protect then copy out"
            let s3, a3 = step s2 (Fault(fault 2, pg 0, Write))
            Expect.isEmpty a3 "the writer waits"
            let s4, a4 = step s3 (WriteBackDone(pg 0))
            Expect.equal a4 [ Unprotect(pg 0); Wake(pg 0, [ fault 2 ]) ] "cancelled"
            let dirtyAndReferenced = match stateOf(pg 0) s4 with Some(ResidentDirty slot) -> Clock.isReferenced slot | _ -> false
            Expect.isTrue dirtyAndReferenced "dirty again, and referenced: the writers just proved it hot"
            Expect.equal (clockPages s4) [ pg 0 ] "back in the CLOCK ring"

        testCase "read-ahead maps the rest of an untouched aligned block after the faulting page's wake" <| fun () ->
            let config =
                PagerConfig.create localNode 8 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
                |> PagerConfig.withReadAhead 4 |> PagerConfig.withFreeFrames 0
            let s1, a1 = step (create config) (Fault(fault 1, pg 1, Write))
            Expect.equal a1 [ ZeroFill(pg 1, Writable); Wake(pg 1, [ fault 1 ]); ZeroFill(pg 0, Writable); ZeroFill(pg 2, Writable); ZeroFill(pg 3, Writable) ]
                "a writer's block is zero-filled writable"
            Expect.equal s1.FramesInUse 4 "four frames"
            let _, a2 = step s1 (Fault(fault 2, pg 5, Read))
            Expect.equal a2 [ ZeroFill(pg 5, WriteProtected); Wake(pg 5, [ fault 2 ]); ZeroFill(pg 4, WriteProtected); ZeroFill(pg 6, WriteProtected); ZeroFill(pg 7, WriteProtected) ]
                "a reader's block is zero-filled write-protected"
            let s3, a3 = step s1 (Fault(fault 2, pg 5, Read)) |> fst |> fun s -> step s (Fault(fault 3, pg 0, Write))
            Expect.equal a3 [ Wake(pg 0, [ fault 3 ]) ] "a fault on a read-ahead page is stale: woken at once"
            Expect.equal s3.FramesInUse 8 "budget full"

        testCase "read-ahead never evicts: with too few free frames only the faulting page is mapped" <| fun () ->
            let config =
                PagerConfig.create localNode 3 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A") |> PagerConfig.withReadAhead 4
            let _, a1 = step (create config) (Fault(fault 1, pg 1, Write))
            Expect.equal a1 [ ZeroFill(pg 1, Writable); Wake(pg 1, [ fault 1 ]) ] "no read-ahead"

        testCase "completions for pages not in flight are reported, not thrown" <| fun () ->
            let config = PagerConfig.create localNode 1 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
            let s0 = create config
            let s1, a1 = step s0 (FetchDone(pg 3))
            Expect.equal a1 [ Report(UnexpectedFetchDone(pg 3, None)) ] "fetch"
            let _, a2 = step s1 (WriteBackDone(pg 3))
            Expect.equal a2 [ Report(UnexpectedWriteBackDone(pg 3, None)) ] "write-back"
            Expect.equal (PagerConfig.create localNode 0 (placementFor Bind)) (Error(BudgetBelowOnePage 0)) "budget"

        // core is reflection-free (native AOT), so a PagerError's ToString is only its type name: the shell logs
        // PagerError.text, which must name the page, its state and the nodes itself.
        testCase "a report's text names the page in hex, the page's state and the nodes" <| fun () ->
            let config = PagerConfig.create localNode 1 (placementFor FirstTouch) |> Result.defaultWith (failwithf "%A")
            let reports actions = actions |> List.choose (function Report e -> Some(PagerError.text e) | _ -> None)
            let s1, a1 = step (create config) (Fault(fault 1, pg 26, Write))
            Expect.equal (reports a1) [ "page 0x1A cannot be homed: it is outside guest RAM" ] "fault outside guest RAM"
            let s2, _ = step s1 (Fault(fault 2, pg 5, Write))
            let _, a3 = step s2 (FetchDone(pg 5))
            Expect.equal (reports a3) [ "unexpected FetchDone for page 0x5: the page is resident (dirty)" ] "fetch of a dirty page"
            Expect.equal
                (PagerError.text (UnexpectedWriteBackDone(pg 3, None)))
                "unexpected WriteBackDone for page 0x3: the page is untouched" "write-back of an untouched page"
            Expect.equal
                (PagerError.text (InvalidHomeMove(remoteNode, remoteNode)))
                "home node 1 cannot move to node 1: that is itself (or moved to it)" "home move"
    ]
