/// Which node homes a page: where its bytes are stored while no node has it resident, and where write-backs
/// go. A page is homed when it is first touched and keeps its home.
module SsiHv.Core.Paging.Placement

open SsiHv.Core.Topology
open SsiHv.Core.Memory

type PlacementPolicy =
    /// Home a page on the node that first touches it while that node's memory lasts, then on the next node
    /// (in id order, wrapping) that has room. Linux's default policy, and the one that keeps a vCPU's
    /// private data local.
    | FirstTouch
    /// Home a page on the node the SRAT assigns its address to.
    | Bind
    /// Spread pages round-robin over the memory nodes by page number, falling back like FirstTouch when the
    /// chosen node is full.
    | Interleave

/// A run of guest RAM pages that the SRAT assigns to one node.
type PageRange = { Node: NodeId; First: PageNumber; Count: uint64 }

type Placement =
    { Policy: PlacementPolicy
      /// How many pages each memory node can home, in node-id order.
      Capacity: (NodeId * uint64) list
      /// Guest RAM, as the SRAT describes it.
      Ranges: PageRange list }

type PlacementError =
    | OutsideGuestRam of PageNumber
    /// Every node's memory is homing pages already. Cannot happen when capacities cover guest RAM, as
    /// `ofTopology` makes them.
    | NoNodeHasRoom of PageNumber

/// The policy a topology file's `placement` field selects.
let policyOf (placement: PagePlacement) : PlacementPolicy =
    match placement with
    | PagePlacement.FirstTouch -> FirstTouch
    | PagePlacement.Bind -> Bind
    | PagePlacement.Interleave -> Interleave

/// Each node can home exactly as many pages as its SRAT ranges hold, so guest RAM always fits.
let ofTopology (policy: PlacementPolicy) (topology: Topology) : Placement =
    let ranges =
        Layout.ranges topology
        |> List.map (fun r -> { Node = r.Node; First = Page.ofAddress(GuestAddress r.Base); Count = r.Length / Page.size })
    { Policy = policy
      Capacity = ranges |> List.groupBy (fun r -> r.Node) |> List.map (fun (node, rs) -> node, rs |> List.sumBy (fun r -> r.Count))
      Ranges = ranges }

let sratNode (placement: Placement) (page: PageNumber) : NodeId option =
    let rec find (ranges: PageRange list) =
        match ranges with
        | [] -> None
        | r :: rest -> if page.Value >= r.First.Value && page.Value - r.First.Value < r.Count then Some r.Node else find rest
    find placement.Ranges

let homedOn (homed: NodeMap<uint64>) (node: NodeId) = NodeMap.tryFind node homed |> Option.defaultValue 0UL

/// The first node with room, starting at `preferred` and continuing in id order, wrapping. Two passes over the
/// capacity list rather than a rearranged copy of it: this runs on every first touch of a page.
let private firstWithRoom (placement: Placement) (homed: NodeMap<uint64>) (preferred: NodeId) =
    let rec search (atOrAfter: bool) (capacities: (NodeId * uint64) list) =
        match capacities with
        | [] -> None
        | (node, capacity) :: rest ->
            if (node >= preferred) = atOrAfter && homedOn homed node < capacity then Some node else search atOrAfter rest
    match search true placement.Capacity with
    | Some node -> Some node
    | None -> search false placement.Capacity

/// The home of a page touched for the first time by `touchingNode`, given how many pages each node homes.
let home (placement: Placement) (homed: NodeMap<uint64>) (page: PageNumber) (touchingNode: NodeId)
    : Result<NodeId, PlacementError> =
    match sratNode placement page with
    | None -> Error(OutsideGuestRam page)
    | Some srat ->
        let chosen =
            match placement.Policy with
            | Bind -> Some srat
            | FirstTouch -> firstWithRoom placement homed touchingNode
            | Interleave ->
                let nodes = placement.Capacity |> List.map fst
                let preferred = nodes.[int (page.Value % uint64 nodes.Length)]
                firstWithRoom placement homed preferred
        match chosen with
        | Some node -> Ok node
        | None -> Error(NoNodeHasRoom page)
