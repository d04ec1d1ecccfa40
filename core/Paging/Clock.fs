/// CLOCK (second-chance FIFO) victim selection over the resident pages, as a pure value.
///
/// userfaultfd shows the pager only faults, not the accessed bits of page tables, so a page counts as
/// referenced when it is installed or faulted on since the hand last passed it. The ring is kept as a map
/// from a sequence number to a page: the hand is the smallest key, and a page given a second chance moves
/// behind the largest one. Every operation is O(log n), which matters with a budget of millions of pages.
/// Each page's position and referenced bit share one map entry, so an insert is two map updates and
/// referencing an already referenced page allocates nothing (this is on the pager's per-fault path).
module SsiHv.Core.Paging.Clock

[<Struct>]
type private Slot = { Position: uint64; Referenced: bool }

type Clock =
    private
        { Ring: Map<uint64, PageNumber>
          Slots: Map<PageNumber, Slot>
          NextPosition: uint64 }

let empty = { Ring = Map.empty; Slots = Map.empty; NextPosition = 0UL }

let contains (page: PageNumber) (clock: Clock) = Map.containsKey page clock.Slots

let isReferenced (page: PageNumber) (clock: Clock) =
    match Map.tryFind page clock.Slots with
    | Some slot -> slot.Referenced
    | None -> false

/// The pages in the order the hand will visit them.
let pages (clock: Clock) = clock.Ring |> Map.toList |> List.map snd

let private appendBehindHand (page: PageNumber) (referenced: bool) (clock: Clock) =
    { Ring = Map.add clock.NextPosition page clock.Ring
      Slots = Map.add page { Position = clock.NextPosition; Referenced = referenced } clock.Slots
      NextPosition = clock.NextPosition + 1UL }

let reference (page: PageNumber) (clock: Clock) =
    match Map.tryFind page clock.Slots with
    | Some slot when not slot.Referenced -> { clock with Slots = Map.add page { slot with Referenced = true } clock.Slots }
    | _ -> clock

/// A newly resident page enters behind the hand, referenced: it was just touched.
let insert (page: PageNumber) (clock: Clock) =
    match Map.tryFind page clock.Slots with
    | Some slot when slot.Referenced -> clock
    | Some slot -> { clock with Slots = Map.add page { slot with Referenced = true } clock.Slots }
    | None -> appendBehindHand page true clock

let remove (page: PageNumber) (clock: Clock) =
    match Map.tryFind page clock.Slots with
    | None -> clock
    | Some slot -> { clock with Ring = Map.remove slot.Position clock.Ring; Slots = Map.remove page clock.Slots }

/// Advances the hand past referenced pages, clearing their bit and moving them behind the hand, and takes
/// the first unreferenced page out of the ring. Ends within one sweep plus one page: each referenced page is
/// passed at most once before its bit is clear.
let chooseVictim (clock: Clock) : (PageNumber * Clock) option =
    let rec sweep (clock: Clock) =
        let position, page = Map.minKeyValue clock.Ring
        let ring = Map.remove position clock.Ring
        if isReferenced page clock then
            sweep (appendBehindHand page false { clock with Ring = ring })
        else
            page, { clock with Ring = ring; Slots = Map.remove page clock.Slots }
    if Map.isEmpty clock.Ring then None else Some(sweep clock)
