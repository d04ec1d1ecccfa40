/// The userfaultfd pager of one node host as a pure state machine (docs/design.md §3.3):
/// `step : PagerState -> PagerEvent -> PagerState * PagerAction list`.
///
/// The shell feeds it fault messages, completions of the transfers it started and eviction or invalidation
/// requests, and performs the returned actions in order. Only Fetch and CopyOut are asynchronous; every other
/// action is a syscall the shell completes before it feeds the next event. docs/pager.md gives the table of
/// transitions and why each one loses no write and serves no stale read.
module SsiHv.Core.Paging.Pager

open System
open SsiHv.Core.Topology
open SsiHv.Core.Paging.Placement

/// A fault whose access is blocked until the pager wakes it.
type Waiter = { Fault: FaultId; Access: Access }

type InFlightFetch =
    { Source: NodeId
      Waiters: Waiter list
      /// A remote invalidation arrived after the request left, so the bytes that come back may predate the
      /// remote write: they are discarded and fetched again from the node named here, the page's home when
      /// the invalidation was acknowledged (where the remote writer stores, even if the home moves later).
      Stale: NodeId option }

/// Why a resident page's bytes are being copied to a home.
type WriteBackPurpose =
    /// The page gives up its frame: it is dropped once home.
    | Eviction
    /// A clean page held by a leaving home is copied to the new one (MoveHome): it stays mapped, clean, and its
    /// frame is not counted as being freed.
    | CopyToNewHome

type InFlightWriteBack =
    { Target: NodeId
      /// Writes that hit the write-protected page while its bytes were being copied out.
      Writers: FaultId list
      /// Nodes that asked for this page to be invalidated, in arrival order; each is acknowledged once the
      /// page is home and dropped.
      InvalidatedBy: NodeId list
      Purpose: WriteBackPurpose }

/// A page's bytes being moved from a leaving home to its new one (MoveHome): not mapped here, no frame.
type InFlightMove =
    { From: NodeId
      To: NodeId
      /// Faults that wait for the bytes to reach `To` before the page is fetched from there.
      Waiters: Waiter list
      /// Invalidations that arrived meanwhile, acknowledged once the bytes are at the page's home, so that
      /// the remote writer's bytes are not overwritten by the older ones being moved.
      InvalidatedBy: NodeId list }

/// What a page waiting for a frame will be mapped with. A fetch lands in a pager buffer, not in guest memory,
/// so it needs no frame: it starts as soon as the page waits (in the same step as the victim's write-back),
/// and only the mapping waits for the frame.
type AwaitedCopy =
    /// Zero-filled when a frame is free; nothing to fetch.
    | AwaitedZeroes
    /// The fetch from `source` is in flight. `stale` as in InFlightFetch.
    | EarlyFetch of source: NodeId * stale: NodeId option
    /// The bytes from `source` arrived; the shell holds them until Install or DiscardFetched.
    | FetchedEarly of source: NodeId

/// The local state of one page. A page this node host has never touched has no state (it is zeroes, homed
/// nowhere yet); every touched page is in exactly one of these.
type PageState =
    /// Not mapped here.
    | Absent of newest: CopySource
    /// Faulted on, but every frame of the residency budget is taken: waits, in FIFO order, for one, while its
    /// bytes are fetched (see AwaitedCopy).
    | AwaitingFrame of copy: AwaitedCopy * waiters: Waiter list
    /// A frame is reserved and the bytes are on their way.
    | Fetching of InFlightFetch
    /// Mapped write-protected; `alsoAt` holds the same bytes, so dropping the page loses nothing. `ring`: its
    /// place in the CLOCK ring (every resident page, and only a resident page, is in it).
    | ResidentClean of alsoAt: CopySource * ring: Clock.Slot
    /// Mapped writable; this is the only current copy.
    | ResidentDirty of ring: Clock.Slot
    /// Write-protected and being copied to its home; dropped once the home has stored it (unless the copy
    /// only moves a clean page to a new home, see `WriteBackPurpose`).
    | WritingBack of InFlightWriteBack
    /// Not mapped here; the newest bytes are being copied from a leaving home to the new one.
    | MovingHome of InFlightMove

type PageRecord = { Home: NodeId; State: PageState }

type PagerEvent =
    /// A userfaultfd fault message for a page (MISSING or WP; see `Access`).
    | Fault of FaultId * PageNumber * Access
    /// The bytes requested by `Fetch` have arrived; the shell holds them until `Install` or `DiscardFetched`.
    | FetchDone of PageNumber
    /// The node named by `CopyOut` has stored the page.
    | WriteBackDone of PageNumber
    /// Evict this page now (a drain, a shrinking budget). Ignored unless the page is resident.
    | EvictRequested of PageNumber
    /// Another node is about to write this page: give up any copy, then acknowledge.
    | RemoteInvalidate of PageNumber * requester: NodeId
    /// The memory node `source` leaves: from now on nothing is written to it and no page is homed there; every
    /// page whose newest bytes it holds is moved to `target` (resolved through earlier moves). Answered by
    /// `HomeMoved source` once nothing is held by it and no transfer involving it is in flight.
    | MoveHome of source: NodeId * target: NodeId
    /// The transfer started by `MovePage` has stored the page at its new home.
    | MovePageDone of PageNumber

type PagerError =
    | PlacementFailed of PageNumber * PlacementError
    | UnexpectedFetchDone of PageNumber * PageState option
    | UnexpectedWriteBackDone of PageNumber * PageState option
    | UnexpectedMovePageDone of PageNumber * PageState option
    /// A home cannot move to itself (or to a node that itself moved to it).
    | InvalidHomeMove of source: NodeId * target: NodeId

/// The text the shell logs for a Report; written out because core is reflection-free (native AOT), where a
/// union's ToString is only its type name.
module PagerError =
    let private stateText (state: PageState option) =
        match state with
        | None -> "untouched"
        | Some(Absent _) -> "absent"
        | Some(AwaitingFrame _) -> "awaiting a frame"
        | Some(Fetching _) -> "fetching"
        | Some(ResidentClean _) -> "resident (clean)"
        | Some(ResidentDirty _) -> "resident (dirty)"
        | Some(WritingBack _) -> "writing back"
        | Some(MovingHome _) -> "moving home"

    let text (error: PagerError) =
        match error with
        | PlacementFailed(page, OutsideGuestRam _) -> String.Format("page 0x{0:X} cannot be homed: it is outside guest RAM", page.Value)
        | PlacementFailed(page, NoNodeHasRoom _) -> String.Format("page 0x{0:X} cannot be homed: no node has room for it", page.Value)
        | UnexpectedFetchDone(page, state) -> String.Format("unexpected FetchDone for page 0x{0:X}: the page is {1}", page.Value, (stateText state))
        | UnexpectedWriteBackDone(page, state) -> String.Format("unexpected WriteBackDone for page 0x{0:X}: the page is {1}", page.Value, (stateText state))
        | UnexpectedMovePageDone(page, state) -> String.Format("unexpected MovePageDone for page 0x{0:X}: the page is {1}", page.Value, (stateText state))
        | InvalidHomeMove(source, target) ->
            String.Format("home node {0} cannot move to node {1}: that is itself (or moved to it)", source.Value, target.Value)

/// What the shell must do, in list order.
type PagerAction =
    /// Map a zero page: UFFDIO_COPY of a zeroed buffer with MODE_DONTWAKE (plus MODE_WP when write-protected).
    | ZeroFill of PageNumber * Protection
    /// Ask a node for the page's bytes; answer with FetchDone.
    | Fetch of PageNumber * from: NodeId
    /// Map the bytes that came with FetchDone: UFFDIO_COPY, MODE_DONTWAKE (plus MODE_WP when write-protected).
    | Install of PageNumber * Protection
    /// The bytes that came with FetchDone are stale and will never be installed: free their buffer.
    | DiscardFetched of PageNumber
    /// UFFDIO_WRITEPROTECT with MODE_WP: from now on a write to the page blocks in a WP fault.
    | WriteProtect of PageNumber
    /// UFFDIO_WRITEPROTECT with MODE_DONTWAKE and without MODE_WP.
    | Unprotect of PageNumber
    /// Send the (write-protected, so unchanging) bytes to that node's page store; answer with WriteBackDone.
    | CopyOut of PageNumber * toNode: NodeId
    /// MADV_DONTNEED (MADV_REMOVE on shared memory): unmap the page so the next access faults MISSING.
    | Drop of PageNumber
    /// UFFDIO_WAKE on the page: the blocked accesses of these faults retry.
    | Wake of PageNumber * FaultId list
    /// Tell the requester of a RemoteInvalidate that this node holds no copy any more.
    | AcknowledgeInvalidate of PageNumber * requester: NodeId
    /// Read the page from node `from`'s store and write those bytes to node `toNode`'s store (guest memory is
    /// not involved); answer with MovePageDone.
    | MovePage of PageNumber * from: NodeId * toNode: NodeId
    /// Every page the node held has been moved: it is no longer read or written by this pager.
    | HomeMoved of NodeId
    | Report of PagerError

type PagerConfig =
    private
        { LocalNode: NodeId
          BudgetPages: int
          Placement: Placement
          ReadAheadPages: int
          FreeFrameTarget: int }

    member config.Budget = config.BudgetPages
    /// Pages per aligned read-ahead block; 0 when read-ahead is off (the default).
    member config.ReadAhead = config.ReadAheadPages
    /// Frames kept free, or being freed by write-backs in flight, once the budget is nearly full: the low
    /// watermark (docs/pager.md, "Evicting ahead").
    member config.FreeFrames = config.FreeFrameTarget

type PagerConfigError = BudgetBelowOnePage of int

module PagerConfig =
    /// Read-ahead is off by default: it pays off for sequential first touches only (docs/pager.md, "Read-ahead").
    [<Literal>]
    let DefaultReadAheadPages = 0

    /// The largest read-ahead block: 512 pages, 2 MiB, a huge page's worth.
    [<Literal>]
    let MaximumReadAheadPages = 512

    /// What a configured read-ahead block must be, when `blockPages` is not that: 0 (off) or 2 to
    /// MaximumReadAheadPages pages.
    let readAheadProblem (blockPages: int) =
        if blockPages = 0 || (blockPages >= 2 && blockPages <= MaximumReadAheadPages) then None
        else Some (String.Format("expected 0 (off) or a whole number of pages from 2 to {0}, found {1}", MaximumReadAheadPages, blockPages))

    /// Frames evicted ahead by default: one fault per vCPU of a small guest finds a frame at once.
    [<Literal>]
    let DefaultFreeFrames = 4

    /// At most a quarter of the budget is kept free, so that a small budget still holds the pages its faults
    /// need at once (a target of 0 below 4 pages: evicting ahead never takes a page just admitted).
    let private capped (budgetPages: int) (frames: int) = max 0 (min frames (budgetPages / 4))

    /// A budget of at least one page is what lets every fault make progress.
    let create (localNode: NodeId) (budgetPages: int) (placement: Placement) : Result<PagerConfig, PagerConfigError> =
        if budgetPages < 1 then Error(BudgetBelowOnePage budgetPages)
        else
            Ok { LocalNode = localNode; BudgetPages = budgetPages; Placement = placement; ReadAheadPages = DefaultReadAheadPages
                 FreeFrameTarget = capped budgetPages DefaultFreeFrames }

    /// Read-ahead of aligned blocks of `blockPages` pages (docs/pager.md, "Read-ahead"); below 2 turns it off.
    let withReadAhead (blockPages: int) (config: PagerConfig) =
        { config with ReadAheadPages = if blockPages < 2 then 0 else blockPages }

    /// The free-frame target (capped to a quarter of the budget); 0 evicts only when a fault needs the frame.
    let withFreeFrames (frames: int) (config: PagerConfig) =
        { config with FreeFrameTarget = capped config.BudgetPages frames }

/// Pages waiting for a frame, oldest first: a banker's queue, O(1) amortized.
type FrameQueue =
    private
        { Front: PageNumber list
          Back: PageNumber list
          Length: int }

module FrameQueue =
    let empty = { Front = []; Back = []; Length = 0 }
    let length (queue: FrameQueue) = queue.Length
    let toList (queue: FrameQueue) = queue.Front @ List.rev queue.Back
    let enqueue page (queue: FrameQueue) = { queue with Back = page :: queue.Back; Length = queue.Length + 1 }

    /// Reverses Back only when Front is empty (reversing it on every call would make a dequeue O(n)).
    let tryDequeue (queue: FrameQueue) =
        match queue.Front with
        | head :: front -> Some(head, { queue with Front = front; Length = queue.Length - 1 })
        | [] ->
            match List.rev queue.Back with
            | head :: front -> Some(head, { Front = front; Back = []; Length = queue.Length - 1 })
            | [] -> None

type PagerState =
    { Config: PagerConfig
      Pages: PageMap<PageRecord>
      /// The CLOCK ring of the resident pages (clean or dirty), which are exactly the pages that may be chosen
      /// as victims. Their slots (position, referenced bit) are in their states, so that an admission updates
      /// `Pages` alone; `clockPages` lists the ring.
      Clock: Clock.Ring
      AwaitingFrames: FrameQueue
      /// Pages that hold or are about to hold a frame: Fetching, resident or WritingBack. Never above the
      /// budget.
      FramesInUse: int
      /// Evicting WritingBack pages: frames that will be released without choosing another victim.
      WriteBacksInFlight: int
      /// Fetching pages: while one is in flight, nothing is evicted ahead (`evictAhead`).
      FetchesInFlight: int
      /// How many pages each node homes, for placement.
      HomedPages: NodeMap<uint64>
      /// Every home that left (or is leaving), to the node that took its pages over. Never a chain: a move
      /// to a node that left is resolved first, and earlier moves to a leaving node are redirected.
      HomeMoves: Map<NodeId, NodeId>
      /// Homes still leaving, each with the pages that still involve it (held by it, or in a transfer from
      /// or to it). Empty sets are removed together with emitting HomeMoved.
      Draining: Map<NodeId, PageSet> }

let create (config: PagerConfig) =
    { Config = config; Pages = PageMap.empty; Clock = Clock.empty; AwaitingFrames = FrameQueue.empty
      FramesInUse = 0; WriteBacksInFlight = 0; FetchesInFlight = 0
      HomedPages = NodeMap.empty; HomeMoves = Map.empty; Draining = Map.empty }

let stateOf (page: PageNumber) (state: PagerState) = PageMap.tryFind page state.Pages |> Option.map (fun r -> r.State)

/// A resident page's CLOCK slot: how the ring reads the slots it does not hold.
let private ringSlot (pages: PageMap<PageRecord>) (page: PageNumber) =
    match PageMap.tryFindValue page pages with
    | ValueSome { State = ResidentClean(_, slot) | ResidentDirty slot } -> ValueSome slot
    | _ -> ValueNone

/// A resident state with its CLOCK slot replaced (other states hold none).
let private withSlot (slot: Clock.Slot) (pageState: PageState) =
    match pageState with
    | ResidentClean(alsoAt, _) -> ResidentClean(alsoAt, slot)
    | ResidentDirty _ -> ResidentDirty slot
    | other -> other

/// How the hand moves a resident page behind it.
let private withRingSlot (page: PageNumber) (slot: Clock.Slot) (pages: PageMap<PageRecord>) =
    match PageMap.tryFindValue page pages with
    | ValueSome record -> PageMap.add page { record with State = withSlot slot record.State } pages
    | _ -> pages

/// The resident pages in the order the CLOCK hand will visit them.
let clockPages (state: PagerState) = Clock.pages ringSlot state.Pages state.Clock

/// A step in progress: the state so far and the actions so far, newest first.
type private Progress = PagerState * PagerAction list

let private emit (action: PagerAction) ((state, actions): Progress) : Progress = state, action :: actions

let private setState (page: PageNumber) (record: PageRecord) (pageState: PageState) ((state, actions): Progress) : Progress =
    { state with Pages = PageMap.add page { record with State = pageState } state.Pages }, actions

let private mapState (change: PagerState -> PagerState) ((state, actions): Progress) : Progress = change state, actions

let private releaseFrame (state: PagerState) = { state with FramesInUse = state.FramesInUse - 1 }

let private startedFetching (state: PagerState) = { state with FetchesInFlight = state.FetchesInFlight + 1 }

/// After a resident page's state changed to a non-resident one (which holds no slot).
let private leftRing (state: PagerState) = { state with Clock = Clock.removed ringSlot state.Pages state.Clock }

/// Where a page homed on `node` is homed now.
let private currentHome (state: PagerState) (node: NodeId) = Map.tryFind node state.HomeMoves |> Option.defaultValue node

/// The placement policy's home for a new page, redirected away from homes that left.
let private placeNew (state: PagerState) (page: PageNumber) (touchingNode: NodeId) =
    let placed = Placement.home state.Config.Placement state.HomedPages page touchingNode
    if Map.isEmpty state.HomeMoves then placed else placed |> Result.map (currentHome state)

let private faultsOf (waiters: Waiter list) = waiters |> List.map (fun w -> w.Fault) |> List.rev

/// A page is mapped writable (and so dirty) only if an access that needs it writes; otherwise
/// write-protected, so that the first write is seen.
let private protectionFor (waiters: Waiter list) =
    let rec writes (waiters: Waiter list) = match waiters with [] -> false | w :: rest -> w.Access = Write || writes rest
    if writes waiters then Writable else WriteProtected

/// Maps a page with `protection` (a writable page is dirty) and wakes its waiters, if any.
let private mapResident (page: PageNumber) (record: PageRecord) (source: CopySource) (protection: Protection) (waiters: Waiter list)
                        (mapPage: Protection -> PagerAction) ((state, actions): Progress) : Progress =
    let struct (slot, clock) = Clock.insert page state.Clock
    let resident = match protection with Writable -> ResidentDirty slot | WriteProtected -> ResidentClean(source, slot)
    // One state copy for the page and the clock: on the per-fault path.
    let state = { state with Pages = PageMap.add page { record with State = resident } state.Pages; Clock = clock }
    let actions = mapPage protection :: actions
    match waiters with
    | [] -> state, actions
    | [ only ] -> state, Wake(page, [ only.Fault ]) :: actions
    | _ -> state, Wake(page, faultsOf waiters) :: actions

/// Maps a page for the waiters that need it, with the protection their accesses need.
let private makeResident (page: PageNumber) (record: PageRecord) (source: CopySource) (waiters: Waiter list)
                         (mapPage: Protection -> PagerAction) (progress: Progress) : Progress =
    mapResident page record source (protectionFor waiters) waiters mapPage progress

/// Queues a page for a frame and starts fetching its bytes at once, into a buffer that needs no frame.
let private awaitFrame (page: PageNumber) (record: PageRecord) (newest: CopySource) (waiters: Waiter list) (progress: Progress) =
    let queued = progress |> mapState (fun s -> { s with AwaitingFrames = FrameQueue.enqueue page s.AwaitingFrames })
    match newest with
    | Zeroes -> queued |> setState page record (AwaitingFrame(AwaitedZeroes, waiters))
    | HeldBy source -> queued |> setState page record (AwaitingFrame(EarlyFetch(source, None), waiters)) |> emit (Fetch(page, source))

/// Write-protect first, so that no write can land between the copy and the drop unseen.
let private startWriteBack (page: PageNumber) (record: PageRecord) (invalidatedBy: NodeId list) (progress: Progress) =
    progress
    |> setState page record (WritingBack { Target = record.Home; Writers = []; InvalidatedBy = invalidatedBy; Purpose = Eviction })
    |> mapState (fun s -> leftRing { s with WriteBacksInFlight = s.WriteBacksInFlight + 1 })
    |> emit (WriteProtect page)
    |> emit (CopyOut(page, record.Home))

/// Gives up a resident page's frame. A clean page is dropped at once: `alsoAt` has its bytes. A dirty page
/// is written back first.
let private evict (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = ResidentClean(alsoAt, _) } as record) ->
        progress
        |> setState page record (Absent alsoAt)
        |> mapState (leftRing >> releaseFrame)
        |> emit (Drop page)
    | Some({ State = ResidentDirty _ } as record) -> startWriteBack page record [] progress
    | _ -> progress

/// Gives a page and its waiters a free frame: zero-filled at once, or fetched.
let private admitWith (page: PageNumber) (record: PageRecord) (newest: CopySource) (waiters: Waiter list) ((state, actions): Progress) =
    let progress = { state with FramesInUse = state.FramesInUse + 1 }, actions
    match newest with
    | Zeroes -> makeResident page record Zeroes waiters (fun protection -> ZeroFill(page, protection)) progress
    | HeldBy source ->
        progress
        |> setState page record (Fetching { Source = source; Waiters = waiters; Stale = None })
        |> mapState startedFetching
        |> emit (Fetch(page, source))

/// Gives the oldest page awaiting a frame its frame: zero-filled, installed if its bytes arrived, or left to
/// finish the fetch already in flight (no second Fetch).
let private admit (page: PageNumber) (progress: Progress) : Progress =
    let state, actions = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = AwaitingFrame(copy, waiters) } as record) ->
        let progress = { state with FramesInUse = state.FramesInUse + 1 }, actions
        match copy with
        | AwaitedZeroes -> makeResident page record Zeroes waiters (fun protection -> ZeroFill(page, protection)) progress
        | EarlyFetch(source, stale) ->
            progress |> setState page record (Fetching { Source = source; Waiters = waiters; Stale = stale }) |> mapState startedFetching
        | FetchedEarly source -> makeResident page record (HeldBy source) waiters (fun protection -> Install(page, protection)) progress
    | _ -> progress

/// Runs after every event: admits waiting pages while frames are free; then evicts CLOCK victims until the
/// frames free now or freed by the write-backs in flight cover every waiting page plus `target` (0 in `step`:
/// only what waiting pages need; the free-frame target in `evictAhead`). Never exceeds the budget, because a
/// page is admitted only into a free frame.
let rec private settle (target: int) (progress: Progress) : Progress =
    let state, actions = progress
    match FrameQueue.tryDequeue state.AwaitingFrames with
    | Some(page, rest) when state.FramesInUse < state.Config.BudgetPages ->
        settle target (admit page ({ state with AwaitingFrames = rest }, actions))
    | _ ->
        let coming = state.Config.BudgetPages - state.FramesInUse + state.WriteBacksInFlight
        if coming >= FrameQueue.length state.AwaitingFrames + target then progress
        else
            match Clock.chooseVictim ringSlot withRingSlot state.Pages state.Clock with
            | ValueSome(struct (victim, pages, clock)) -> settle target (evict victim ({ state with Pages = pages; Clock = clock }, actions))
            | ValueNone -> progress

let private onFault (fault: FaultId) (page: PageNumber) (access: Access) (progress: Progress) : Progress =
    let state, _ = progress
    let waiter = { Fault = fault; Access = access }
    // Fast path, same outcome as queueing and `settle` admitting at once: nothing waits and a frame is free.
    let frameFree = FrameQueue.length state.AwaitingFrames = 0 && state.FramesInUse < state.Config.BudgetPages
    // Plain functions rather than closures built on every fault (this is the per-fault path).
    let inline awaitOrAdmit record newest progress =
        if frameFree then admitWith page record newest [ waiter ] progress
        else awaitFrame page record newest [ waiter ] progress
    let inline wakeNow progress = emit (Wake(page, [ fault ])) progress
    match PageMap.tryFind page state.Pages with
    | None ->
        match placeNew state page state.Config.LocalNode with
        | Error error -> progress |> emit (Report(PlacementFailed(page, error)))
        | Ok home ->
            let state, actions = progress
            awaitOrAdmit { Home = home; State = Absent Zeroes } Zeroes
                ({ state with HomedPages = NodeMap.add home (homedOn state.HomedPages home + 1UL) state.HomedPages }, actions)
    | Some record ->
        match record.State, access with
        | Absent newest, _ -> awaitOrAdmit record newest progress
        | AwaitingFrame(copy, waiters), _ -> setState page record (AwaitingFrame(copy, waiter :: waiters)) progress
        | Fetching fetch, _ -> setState page record (Fetching { fetch with Waiters = waiter :: fetch.Waiters }) progress
        | MovingHome move, _ -> setState page record (MovingHome { move with Waiters = waiter :: move.Waiters }) progress
        // The message was queued before the page was mapped (or unprotected); the retry will succeed.
        | (ResidentClean(_, slot), Read | ResidentDirty slot, _) when Clock.isReferenced slot -> wakeNow progress
        | ResidentClean(_, slot), Read
        | ResidentDirty slot, _ -> progress |> setState page record (withSlot (Clock.referenced slot) record.State) |> wakeNow
        | WritingBack _, Read -> wakeNow progress
        | ResidentClean(_, slot), Write ->
            progress |> setState page record (ResidentDirty(Clock.referenced slot)) |> emit (Unprotect page) |> wakeNow
        // The bytes are being copied out: the write must not land until they are home.
        | WritingBack writeBack, Write ->
            setState page record (WritingBack { writeBack with Writers = fault :: writeBack.Writers }) progress

let private onFetchDone (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = Fetching({ Stale = Some freshAt } as fetch) } as record) ->
        progress
        |> setState page record (Fetching { fetch with Source = freshAt; Stale = None })
        |> emit (DiscardFetched page)
        |> emit (Fetch(page, freshAt))
    | Some({ State = Fetching fetch } as record) ->
        progress
        |> mapState (fun s -> { s with FetchesInFlight = s.FetchesInFlight - 1 })
        |> makeResident page record (HeldBy fetch.Source) fetch.Waiters (fun protection -> Install(page, protection))
    | Some({ State = AwaitingFrame(EarlyFetch(_, Some freshAt), waiters) } as record) ->
        progress
        |> setState page record (AwaitingFrame(EarlyFetch(freshAt, None), waiters))
        |> emit (DiscardFetched page)
        |> emit (Fetch(page, freshAt))
    // Still no frame: the shell keeps the bytes until the page is admitted.
    | Some({ State = AwaitingFrame(EarlyFetch(source, None), waiters) } as record) ->
        setState page record (AwaitingFrame(FetchedEarly source, waiters)) progress
    | other -> progress |> emit (Report(UnexpectedFetchDone(page, other |> Option.map (fun r -> r.State))))

let private onWriteBackDone (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = WritingBack writeBack } as record) ->
        let progress =
            match writeBack.Purpose with
            | Eviction -> progress |> mapState (fun s -> { s with WriteBacksInFlight = s.WriteBacksInFlight - 1 })
            | CopyToNewHome -> progress
        match writeBack.InvalidatedBy, writeBack.Writers with
        // A clean page copied to its new home stays mapped, write-protected, equal to that copy.
        | [], [] when writeBack.Purpose = CopyToNewHome ->
            let state, actions = progress
            let struct (slot, clock) = Clock.insert page state.Clock
            setState page record (ResidentClean(HeldBy writeBack.Target, slot)) ({ state with Clock = clock }, actions)
        | [], [] ->
            progress |> setState page record (Absent(HeldBy writeBack.Target)) |> mapState releaseFrame |> emit (Drop page)
        // Cancel the eviction: the writers prove the page is in use, and its bytes are unchanged since the
        // copy, so keeping it mapped (dirty, since they will write) loses nothing.
        | [], writers ->
            let state, actions = progress
            let struct (slot, clock) = Clock.insert page state.Clock
            ({ state with Clock = clock }, actions)
            |> setState page record (ResidentDirty slot)
            |> emit (Unprotect page)
            |> emit (Wake(page, List.rev writers))
        // Another node writes next: drop, acknowledge, and let local writers fetch the page back afterwards.
        | requesters, writers ->
            let dropped = progress |> mapState releaseFrame |> emit (Drop page)
            let acknowledged = requesters |> List.fold (fun p requester -> emit (AcknowledgeInvalidate(page, requester)) p) dropped
            let newest = HeldBy record.Home
            match writers with
            | [] -> setState page record (Absent newest) acknowledged
            | _ ->
                let waiters = writers |> List.map (fun fault -> { Fault = fault; Access = Write })
                awaitFrame page record newest waiters acknowledged
    | other -> progress |> emit (Report(UnexpectedWriteBackDone(page, other |> Option.map (fun r -> r.State))))

let private onEvictRequested (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match stateOf page state with
    | Some(ResidentClean _ | ResidentDirty _) -> evict page progress
    | _ -> progress

/// After a remote write, the newest bytes are wherever the page's home says; the home directory
/// (not built yet, docs/design.md §7) forwards a fetch to the current owner.
let private onRemoteInvalidate (page: PageNumber) (requester: NodeId) (progress: Progress) : Progress =
    let state, _ = progress
    let acknowledge = emit (AcknowledgeInvalidate(page, requester))
    match PageMap.tryFind page state.Pages with
    | None ->
        match placeNew state page requester with
        | Error error -> progress |> emit (Report(PlacementFailed(page, error))) |> acknowledge
        | Ok home ->
            progress
            |> mapState (fun s ->
                { s with
                    HomedPages = NodeMap.add home (homedOn s.HomedPages home + 1UL) s.HomedPages
                    Pages = PageMap.add page { Home = home; State = Absent(HeldBy home) } s.Pages })
            |> acknowledge
    | Some record ->
        let fromHome = HeldBy record.Home
        match record.State with
        | Absent _ -> progress |> setState page record (Absent fromHome) |> acknowledge
        // The fetch starts after the acknowledgement, like a fault's on an Absent page: the home directory
        // forwards it to the writer. A fetch already in flight (or arrived) may predate the write.
        | AwaitingFrame(AwaitedZeroes, waiters) ->
            progress
            |> setState page record (AwaitingFrame(EarlyFetch(record.Home, None), waiters))
            |> acknowledge
            |> emit (Fetch(page, record.Home))
        | AwaitingFrame(EarlyFetch(source, _), waiters) ->
            progress |> setState page record (AwaitingFrame(EarlyFetch(source, Some record.Home), waiters)) |> acknowledge
        | AwaitingFrame(FetchedEarly _, waiters) ->
            progress
            |> setState page record (AwaitingFrame(EarlyFetch(record.Home, None), waiters))
            |> emit (DiscardFetched page)
            |> acknowledge
            |> emit (Fetch(page, record.Home))
        | Fetching fetch -> progress |> setState page record (Fetching { fetch with Stale = Some record.Home }) |> acknowledge
        | ResidentClean _ ->
            progress
            |> setState page record (Absent fromHome)
            |> mapState (leftRing >> releaseFrame)
            |> emit (Drop page)
            |> acknowledge
        | ResidentDirty _ -> startWriteBack page record [ requester ] progress
        | WritingBack writeBack ->
            setState page record (WritingBack { writeBack with InvalidatedBy = writeBack.InvalidatedBy @ [ requester ] }) progress
        | MovingHome move -> setState page record (MovingHome { move with InvalidatedBy = move.InvalidatedBy @ [ requester ] }) progress

/// Read-ahead after a fault that admitted `page` from "untouched" or `Absent source`: when every other page of
/// its aligned block is in the same condition (untouched, or Absent with the same source) and free frames
/// hold them all without evicting anything or taking the free-frame target (no page awaits a frame), map them
/// too, after the faulting page's wake. Zero pages get the faulting access's protection (a sequential writer writes them next; a writable
/// page is dirty, so nothing is lost); fetched pages arrive clean, write-protected. No page is woken: no
/// thread waits on them, and a thread that faults on one meanwhile waits (Fetching) or is woken at once.
let private readAhead (page: PageNumber) (access: Access) (before: PageState option) (progress: Progress) : Progress =
    let state, _ = progress
    let blockPages = state.Config.ReadAheadPages
    let source =
        match before with
        | None -> Some Zeroes
        | Some(Absent source) -> Some source
        | _ -> None
    let admitted =
        match stateOf page state with
        | Some(ResidentClean _ | ResidentDirty _ | Fetching _) -> true
        | _ -> false
    match source with
    | Some source when blockPages > 1 && admitted && FrameQueue.length state.AwaitingFrames = 0
                       && state.FramesInUse + blockPages - 1 + state.Config.FreeFrameTarget <= state.Config.BudgetPages ->
        let first = page.Value - page.Value % uint64 blockPages
        let others = [ for q in first .. first + uint64 blockPages - 1UL do if q <> page.Value then PageNumber q ]
        let sameCondition q =
            match PageMap.tryFind q state.Pages, source with
            | None, Zeroes -> Placement.home state.Config.Placement state.HomedPages q state.Config.LocalNode |> Result.isOk
            | Some { State = Absent s }, _ -> s = source
            | _ -> false
        if not (List.forall sameCondition others) then progress
        else
            // The page's record, homing it first if untouched; None when placement has no room after all
            // (homing pages in order may fill a node; then the page is left alone).
            let recordOf (progress: Progress) (q: PageNumber) : (Progress * PageRecord) option =
                let state, _ = progress
                match PageMap.tryFind q state.Pages with
                | Some record -> Some(progress, record)
                | None ->
                    match placeNew state q state.Config.LocalNode with
                    | Ok home ->
                        Some(progress |> mapState (fun s -> { s with HomedPages = NodeMap.add home (homedOn s.HomedPages home + 1UL) s.HomedPages }),
                             { Home = home; State = Absent Zeroes })
                    | Error _ -> None
            let readOne (progress: Progress) (q: PageNumber) =
                match recordOf progress q with
                | None -> progress
                | Some(progress, record) ->
                    let progress = progress |> mapState (fun s -> { s with FramesInUse = s.FramesInUse + 1 })
                    match source with
                    | Zeroes ->
                        let protection = match access with Write -> Writable | Read -> WriteProtected
                        mapResident q record Zeroes protection [] (fun protection -> ZeroFill(q, protection)) progress
                    | HeldBy node ->
                        progress
                        |> setState q record (Fetching { Source = node; Waiters = []; Stale = None })
                        |> mapState startedFetching
                        |> emit (Fetch(q, node))
            others |> List.fold readOne progress
    | _ -> progress

/// Whether a page's state still needs the leaving home `node`: its newest bytes are there, or a transfer
/// from or to it is in flight.
let private involves (node: NodeId) (pageState: PageState) =
    match pageState with
    | Absent(HeldBy n)
    | AwaitingFrame(FetchedEarly n, _)
    | ResidentClean(HeldBy n, _) -> n = node
    | AwaitingFrame(EarlyFetch(source, stale), _) -> source = node || stale = Some node
    | Fetching fetch -> fetch.Source = node || fetch.Stale = Some node
    | WritingBack writeBack -> writeBack.Target = node
    | MovingHome move -> move.From = node || move.To = node
    | Absent Zeroes | AwaitingFrame(AwaitedZeroes, _) | ResidentClean(Zeroes, _) | ResidentDirty _ -> false

let private startMove (page: PageNumber) (record: PageRecord) (source: NodeId) (waiters: Waiter list) (invalidatedBy: NodeId list)
                      (progress: Progress) : Progress =
    let state, _ = progress
    let target = currentHome state source
    progress
    |> setState page record (MovingHome { From = source; To = target; Waiters = waiters; InvalidatedBy = invalidatedBy })
    |> emit (MovePage(page, source, target))

/// Starts what a page held by the leaving `source` needs, if nothing is in flight for it yet: an unmapped
/// page's bytes are moved store to store; a resident clean page (equal to the copy at `source`) is copied out
/// to the new home and stays mapped. Pages being fetched from or written to `source` are left to finish; they
/// come back here as resident-clean or absent. So do pages awaiting a frame, whose early fetch from `source`
/// is in flight or arrived (reading a leaving home is allowed until HomeMoved): once admitted and installed,
/// they are resident-clean copies of `source`'s bytes and are copied out from here.
let private moveAway (source: NodeId) (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = Absent(HeldBy n) } as record) when n = source -> startMove page record source [] [] progress
    | Some({ State = ResidentClean(HeldBy n, _) } as record) when n = source ->
        let target = currentHome state source
        progress
        |> setState page record (WritingBack { Target = target; Writers = []; InvalidatedBy = []; Purpose = CopyToNewHome })
        |> mapState leftRing
        |> emit (CopyOut(page, target))
    | _ -> progress

/// The bytes reached `move.To`. If that home left meanwhile, they move on; otherwise invalidations that
/// waited are acknowledged (the remote writer now starts from our newest bytes) and waiting faults queue for
/// a frame to fetch the page from its new home.
let private onMovePageDone (page: PageNumber) (progress: Progress) : Progress =
    let state, _ = progress
    match PageMap.tryFind page state.Pages with
    | Some({ State = MovingHome move } as record) when currentHome state move.To <> move.To ->
        startMove page record move.To move.Waiters move.InvalidatedBy progress
    | Some({ State = MovingHome move } as record) ->
        let acknowledged =
            move.InvalidatedBy |> List.fold (fun p requester -> emit (AcknowledgeInvalidate(page, requester)) p) progress
        match move.Waiters with
        | [] -> setState page record (Absent(HeldBy move.To)) acknowledged
        | waiters -> awaitFrame page record (HeldBy move.To) waiters acknowledged
    | other -> progress |> emit (Report(UnexpectedMovePageDone(page, other |> Option.map (fun r -> r.State))))

/// Records the move, rehomes every page homed on `source` (so no write-back goes there any more) and starts
/// moving what it holds. A move of a home that is already leaving changes nothing: its HomeMoved will come.
let private onMoveHome (source: NodeId) (requestedTarget: NodeId) (progress: Progress) : Progress =
    let state, _ = progress
    let target = currentHome state requestedTarget
    if target = source then progress |> emit (Report(InvalidHomeMove(source, requestedTarget)))
    elif Map.containsKey source state.Draining then progress
    else
        let pages = state.Pages |> PageMap.map (fun _ record -> if record.Home = source then { record with Home = target } else record)
        let pending = pages |> PageMap.fold (fun pending page record -> if involves source record.State then PageSet.add page pending else pending) PageSet.empty
        let homed = homedOn state.HomedPages source + homedOn state.HomedPages target
        let moved =
            { state with
                Pages = pages
                HomedPages = state.HomedPages |> NodeMap.remove source |> NodeMap.add target homed
                HomeMoves = state.HomeMoves |> Map.map (fun _ t -> if t = source then target else t) |> Map.add source target
                Draining = Map.add source pending state.Draining }
        pending |> PageSet.fold (fun p page -> moveAway source page p) (moved, snd progress)

let private pageOf (action: PagerAction) =
    match action with
    | ZeroFill(page, _) | Fetch(page, _) | Install(page, _) | DiscardFetched page | WriteProtect page | Unprotect page | CopyOut(page, _)
    | Drop page | Wake(page, _) | AcknowledgeInvalidate(page, _) | MovePage(page, _, _) -> ValueSome page
    | HomeMoved _ | Report _ -> ValueNone

/// After a step while homes are leaving: every page the step touched (the event's page and every page an
/// action names: each state change emits one) that still involves a leaving home gets what it needs next;
/// pages that no longer involve it leave its set; an emptied set emits HomeMoved, once.
let private continueMoves (eventPage: PageNumber voption) (progress: Progress) : Progress =
    let state, actions = progress
    let touched =
        actions |> List.fold (fun pages action -> match pageOf action with ValueSome p -> PageSet.add p pages | ValueNone -> pages)
            (match eventPage with ValueSome p -> PageSet.singleton p | ValueNone -> PageSet.empty)
    state.Draining |> Map.fold (fun (progress: Progress) source pending ->
        let stillPending (progress: Progress) page =
            let progress = moveAway source page progress
            let state, actions = progress
            match PageMap.tryFind page state.Pages with
            | Some record when involves source record.State -> progress
            | _ ->
                let remaining = PageSet.remove page (Map.find source state.Draining)
                { state with Draining = Map.add source remaining state.Draining }, actions
        let progress = PageSet.intersect touched pending |> PageSet.fold stillPending progress
        let state, actions = progress
        if PageSet.isEmpty (Map.find source state.Draining) then
            { state with Draining = Map.remove source state.Draining }, HomeMoved source :: actions
        else progress) progress

/// Evicting ahead (docs/pager.md): victims for the free-frame target, so that the next fault finds a frame and
/// waits for its own bytes alone. The shell calls it after performing each step's actions, so that neither the
/// choice nor the write-protect, copy-out and send of a victim delay the Install/ZeroFill and Wake of the step
/// before. Nothing is evicted ahead while a fetch is in flight: that work would compete with the reply a
/// fault waits for; the fetch's own completion step comes next and is followed by this call.
let evictAhead (state: PagerState) : PagerState * PagerAction list =
    if state.FetchesInFlight > 0 || state.Config.FreeFrameTarget = 0 then state, []
    else
        let evicted, actions = settle state.Config.FreeFrameTarget (state, [])
        let final, actions =
            if Map.isEmpty evicted.Draining || List.isEmpty actions then evicted, actions
            else continueMoves ValueNone (evicted, actions)
        final, List.rev actions

let private eventPage (event: PagerEvent) =
    match event with
    | Fault(_, page, _) | FetchDone page | WriteBackDone page | EvictRequested page | RemoteInvalidate(page, _)
    | MovePageDone page -> ValueSome page
    | MoveHome _ -> ValueNone

/// The pager's transition function: pure, so every decision can be replayed from the event log.
let step (state: PagerState) (event: PagerEvent) : PagerState * PagerAction list =
    let start: Progress = state, []
    let handled =
        match event with
        | Fault(fault, page, access) -> onFault fault page access start
        | FetchDone page -> onFetchDone page start
        | WriteBackDone page -> onWriteBackDone page start
        | EvictRequested page -> onEvictRequested page start
        | RemoteInvalidate(page, requester) -> onRemoteInvalidate page requester start
        | MoveHome(source, target) -> onMoveHome source target start
        | MovePageDone page -> onMovePageDone page start
    let settled = settle 0 handled
    let readAheadDone =
        match event with
        | Fault(_, page, access) when state.Config.ReadAheadPages > 1 -> readAhead page access (stateOf page state) settled
        | _ -> settled
    let final, actions =
        if Map.isEmpty (fst readAheadDone).Draining then readAheadDone
        else continueMoves (eventPage event) readAheadDone
    final, List.rev actions
