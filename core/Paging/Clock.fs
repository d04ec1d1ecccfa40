/// CLOCK (second-chance FIFO) victim selection over the resident pages, as a pure value.
///
/// userfaultfd shows the pager only faults, not the accessed bits of page tables, so a page counts as
/// referenced when it is installed or faulted on since the hand last passed it. The ring is kept as a map
/// from a sequence number to a page: the hand is the smallest key, and a page given a second chance moves
/// behind the largest one. Every operation is O(log n), which matters with a budget of millions of pages.
module SsiHv.Core.Paging.Clock

type Clock =
    private
        { Ring: Map<uint64, PageNumber>
          PositionOf: Map<PageNumber, uint64>
          Referenced: Set<PageNumber>
          NextPosition: uint64 }

let empty =
    { Ring = Map.empty; PositionOf = Map.empty; Referenced = Set.empty; NextPosition = 0UL }

let contains (page: PageNumber) (clock: Clock) = Map.containsKey page clock.PositionOf

let isReferenced (page: PageNumber) (clock: Clock) = Set.contains page clock.Referenced

/// The pages in the order the hand will visit them.
let pages (clock: Clock) = clock.Ring |> Map.toList |> List.map snd

let private appendBehindHand (page: PageNumber) (clock: Clock) =
    { clock with
        Ring = Map.add clock.NextPosition page clock.Ring
        PositionOf = Map.add page clock.NextPosition clock.PositionOf
        NextPosition = clock.NextPosition + 1UL }

let reference (page: PageNumber) (clock: Clock) =
    if contains page clock then { clock with Referenced = Set.add page clock.Referenced } else clock

/// A newly resident page enters behind the hand, referenced: it was just touched.
let insert (page: PageNumber) (clock: Clock) =
    if contains page clock then reference page clock
    else appendBehindHand page clock |> reference page

let remove (page: PageNumber) (clock: Clock) =
    match Map.tryFind page clock.PositionOf with
    | None -> clock
    | Some position ->
        { clock with
            Ring = Map.remove position clock.Ring
            PositionOf = Map.remove page clock.PositionOf
            Referenced = Set.remove page clock.Referenced }

/// Advances the hand past referenced pages, clearing their bit and moving them behind the hand, and takes
/// the first unreferenced page out of the ring. Ends within one sweep plus one page: each referenced page is
/// passed at most once before its bit is clear.
let chooseVictim (clock: Clock) : (PageNumber * Clock) option =
    let rec sweep (clock: Clock) =
        let position, page = Map.minKeyValue clock.Ring
        let atHandRemoved =
            { clock with Ring = Map.remove position clock.Ring; PositionOf = Map.remove page clock.PositionOf }
        if Set.contains page clock.Referenced then
            sweep (appendBehindHand page { atHandRemoved with Referenced = Set.remove page clock.Referenced })
        else
            page, atHandRemoved
    if Map.isEmpty clock.Ring then None else Some(sweep clock)
