/// CLOCK (second-chance FIFO) victim selection over the resident pages, as a pure value.
///
/// userfaultfd shows the pager only faults, not the accessed bits of page tables, so a page counts as
/// referenced when it is installed or faulted on since the hand last passed it. The ring is a banker's queue
/// (two lists) of (position, page) entries, the hand at its front. Each page in the ring has a `Slot`: its
/// current position and referenced bit. The slots are not kept here but in the caller's page records (the
/// pager's resident states), read through `slotOf` and written through `withSlot`: the pager already updates
/// a page's record on every admission, reference and removal, so keeping the slot there saves a second
/// persistent-map walk per fault (this is the pager's per-fault path). Appending behind the hand is a cons and
/// the hand's step is amortized O(1). A page that leaves the ring (or moves behind the hand) only changes or
/// loses its slot; its old entry becomes stale (its position is no longer the slot's) and is skipped when the
/// hand reaches it. Stale entries are dropped in one pass once they outnumber the live ones, so the queue stays
/// within twice the resident pages.
module SsiHv.Core.Paging.Clock

/// A page's place in the ring. Only this module makes one, so positions are unique within a ring.
[<Struct>]
type Slot = private { Position: uint64; Referenced: bool }

[<Struct>]
type private Entry = { At: uint64; Page: PageNumber }

type Ring =
    private
        { /// The entries from the hand on: Front, then Back reversed (Back is newest first).
          Front: Entry list
          Back: Entry list
          /// Entries in Front and Back, stale ones included.
          Entries: int
          /// Pages in the ring: the slots the caller holds.
          Live: int
          NextPosition: uint64 }

let empty = { Front = []; Back = []; Entries = 0; Live = 0; NextPosition = 0UL }

let isReferenced (slot: Slot) = slot.Referenced

/// The slot of a page faulted on again: it gets its second chance when the hand next reaches it.
let referenced (slot: Slot) = { slot with Referenced = true }

let private isCurrent (slotOf: 'table -> PageNumber -> Slot voption) (table: 'table) (entry: Entry) =
    match slotOf table entry.Page with
    | ValueSome slot -> slot.Position = entry.At
    | ValueNone -> false

let private currentEntries slotOf (table: 'table) (ring: Ring) =
    ring.Front @ List.rev ring.Back |> List.filter (isCurrent slotOf table)

/// The pages in the order the hand will visit them.
let pages (slotOf: 'table -> PageNumber -> Slot voption) (table: 'table) (ring: Ring) =
    currentEntries slotOf table ring |> List.map (fun entry -> entry.Page)

/// A newly resident page enters behind the hand, referenced (it was just touched): its slot, which the caller
/// keeps in the page's record, and the ring. The page must not be in the ring already.
/// Adds a live entry, so the stale entries cannot come to outnumber the live ones here.
let insert (page: PageNumber) (ring: Ring) : struct (Slot * Ring) =
    struct ({ Position = ring.NextPosition; Referenced = true },
            { Front = ring.Front
              Back = { At = ring.NextPosition; Page = page } :: ring.Back
              Entries = ring.Entries + 1
              Live = ring.Live + 1
              NextPosition = ring.NextPosition + 1UL })

/// The ring after a page left it: `table` no longer holds the page's slot, so its entry is stale. Drops the
/// stale entries once they outnumber the live ones: O(entries), at most once per that many removals or
/// moves, so amortized O(1).
let removed (slotOf: 'table -> PageNumber -> Slot voption) (table: 'table) (ring: Ring) =
    let ring = { ring with Live = ring.Live - 1 }
    if ring.Entries <= 2 * ring.Live + 8 then ring
    else { ring with Front = currentEntries slotOf table ring; Back = []; Entries = ring.Live }

/// The entry at the hand and the ring without it.
let private takeAtHand (ring: Ring) =
    match ring.Front with
    | entry :: front -> ValueSome(struct (entry, { ring with Front = front; Entries = ring.Entries - 1 }))
    | [] ->
        match List.rev ring.Back with
        | entry :: front -> ValueSome(struct (entry, { ring with Front = front; Back = []; Entries = ring.Entries - 1 }))
        | [] -> ValueNone

/// Advances the hand past referenced pages, clearing their bit and moving them behind the hand (their new
/// slots go to `table` through `withSlot`), up to the first unreferenced page: returns that page, the table
/// and the ring with the hand on it. The victim stays in the ring until the caller takes its slot away and
/// calls `removed`, as for any page that leaves. Ends within one sweep plus one page (stale entries aside):
/// each referenced page is passed at most once before its bit is clear. A move neither adds nor drops an
/// entry, so no compaction is due here.
let chooseVictim (slotOf: 'table -> PageNumber -> Slot voption) (withSlot: PageNumber -> Slot -> 'table -> 'table)
                 (table: 'table) (ring: Ring) : struct (PageNumber * 'table * Ring) voption =
    let rec sweep (table: 'table) (ring: Ring) =
        match takeAtHand ring with
        | ValueNone -> ValueNone // unreachable while Live > 0: every live page has a current entry
        | ValueSome(struct (entry, rest)) ->
            match slotOf table entry.Page with
            | ValueSome slot when slot.Position = entry.At ->
                if slot.Referenced then
                    let moved = { Position = rest.NextPosition; Referenced = false }
                    sweep (withSlot entry.Page moved table)
                        { rest with
                            Back = { At = rest.NextPosition; Page = entry.Page } :: rest.Back
                            Entries = rest.Entries + 1
                            NextPosition = rest.NextPosition + 1UL }
                else ValueSome(struct (entry.Page, table, { rest with Front = entry :: rest.Front; Entries = rest.Entries + 1 }))
            | _ -> sweep table rest
    if ring.Live = 0 then ValueNone else sweep table ring
