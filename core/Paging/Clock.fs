/// CLOCK (second-chance FIFO) victim selection over the resident pages, as a pure value.
///
/// userfaultfd shows the pager only faults, not the accessed bits of page tables, so a page counts as
/// referenced when it is installed or faulted on since the hand last passed it. The ring is a banker's queue
/// (two lists) of (position, page) entries, the hand at its front; each page's slot in a map holds its current
/// position and referenced bit. Appending behind the hand is a cons and the hand's step is amortized O(1):
/// this is on the pager's per-fault path, where a persistent map for the ring cost a tree update per admission.
/// A page that leaves the ring (or moves behind the hand) only changes its slot; its old entry becomes stale
/// (its position is no longer the slot's) and is skipped when the hand reaches it. Stale entries are dropped
/// in one pass once they outnumber the live ones, so the queue stays within twice the resident pages.
module SsiHv.Core.Paging.Clock

[<Struct>]
type private Slot = { Position: uint64; Referenced: bool }

[<Struct>]
type private Entry = { At: uint64; Page: PageNumber }

type Clock =
    private
        { /// The entries from the hand on: Front, then Back reversed (Back is newest first).
          Front: Entry list
          Back: Entry list
          /// Entries in Front and Back, stale ones included.
          Entries: int
          Slots: Map<PageNumber, Slot>
          /// Pages in the ring (the number of slots; Map's count is O(n)).
          Live: int
          NextPosition: uint64 }

let empty = { Front = []; Back = []; Entries = 0; Slots = Map.empty; Live = 0; NextPosition = 0UL }

let contains (page: PageNumber) (clock: Clock) = Map.containsKey page clock.Slots

let isReferenced (page: PageNumber) (clock: Clock) =
    match clock.Slots.TryGetValue page with
    | true, slot -> slot.Referenced
    | _ -> false

let private isCurrent (slots: Map<PageNumber, Slot>) (entry: Entry) =
    match slots.TryGetValue entry.Page with
    | true, slot -> slot.Position = entry.At
    | _ -> false

let private currentEntries (clock: Clock) = clock.Front @ List.rev clock.Back |> List.filter (isCurrent clock.Slots)

/// The pages in the order the hand will visit them.
let pages (clock: Clock) = currentEntries clock |> List.map (fun entry -> entry.Page)

/// Drops the stale entries once they outnumber the live ones: O(entries), at most once per that many
/// removals or moves, so amortized O(1).
let private compacted (clock: Clock) =
    if clock.Entries <= 2 * clock.Live + 8 then clock
    else { clock with Front = currentEntries clock; Back = []; Entries = clock.Live }

/// Puts `page` behind the hand with a new position; an entry it had before becomes stale.
let private appendBehindHand (page: PageNumber) (referenced: bool) (live: int) (clock: Clock) =
    compacted
        { Front = clock.Front
          Back = { At = clock.NextPosition; Page = page } :: clock.Back
          Entries = clock.Entries + 1
          Slots = Map.add page { Position = clock.NextPosition; Referenced = referenced } clock.Slots
          Live = live
          NextPosition = clock.NextPosition + 1UL }

let reference (page: PageNumber) (clock: Clock) =
    match clock.Slots.TryGetValue page with
    | true, slot when not slot.Referenced -> { clock with Slots = Map.add page { slot with Referenced = true } clock.Slots }
    | _ -> clock

/// A newly resident page enters behind the hand, referenced: it was just touched.
let insert (page: PageNumber) (clock: Clock) =
    match clock.Slots.TryGetValue page with
    | true, slot when slot.Referenced -> clock
    | true, slot -> { clock with Slots = Map.add page { slot with Referenced = true } clock.Slots }
    | _ -> appendBehindHand page true (clock.Live + 1) clock

let remove (page: PageNumber) (clock: Clock) =
    if Map.containsKey page clock.Slots then compacted { clock with Slots = Map.remove page clock.Slots; Live = clock.Live - 1 }
    else clock

/// The entry at the hand and the ring without it.
let private takeAtHand (clock: Clock) =
    match clock.Front with
    | entry :: front -> ValueSome(entry, { clock with Front = front; Entries = clock.Entries - 1 })
    | [] ->
        match List.rev clock.Back with
        | entry :: front -> ValueSome(entry, { clock with Front = front; Back = []; Entries = clock.Entries - 1 })
        | [] -> ValueNone

/// Advances the hand past referenced pages, clearing their bit and moving them behind the hand, and takes
/// the first unreferenced page out of the ring. Ends within one sweep plus one page (stale entries aside):
/// each referenced page is passed at most once before its bit is clear.
let chooseVictim (clock: Clock) : (PageNumber * Clock) option =
    let rec sweep (clock: Clock) =
        match takeAtHand clock with
        | ValueNone -> None // unreachable while Live > 0: every live page has a current entry
        | ValueSome(entry, rest) ->
            match rest.Slots.TryGetValue entry.Page with
            | true, slot when slot.Position = entry.At ->
                if slot.Referenced then sweep (appendBehindHand entry.Page false rest.Live rest)
                else Some(entry.Page, compacted { rest with Slots = Map.remove entry.Page rest.Slots; Live = rest.Live - 1 })
            | _ -> sweep rest
    if clock.Live = 0 then None else sweep clock
