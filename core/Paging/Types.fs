namespace SsiHv.Core.Paging

open SsiHv.Core.Topology

/// A guest-physical address: where the guest sees a byte of its RAM (not where this process maps it).
[<Struct>]
type GuestAddress =
    | GuestAddress of uint64

    member address.Value = let (GuestAddress value) = address in value

/// A guest page frame number: guest-physical address / 4 KiB. Pages are the pager's unit of transfer. A type
/// of its own, so that a page cannot be passed where a fault id or an address is expected.
[<Struct>]
type PageNumber =
    | PageNumber of uint64

    member page.Value = let (PageNumber value) = page in value

/// One userfaultfd fault message. The pager wakes each exactly once, so the shell can count and trace faults.
[<Struct>]
type FaultId =
    | FaultId of uint64

    member fault.Value = let (FaultId value) = fault in value

module Page =
    let size = 4096UL
    let ofAddress (GuestAddress address) = PageNumber(address / size)
    let address (PageNumber page) = GuestAddress(page * size)

/// A map from pages, keyed inside by the raw page number. F#'s Map compares a struct-union key such as
/// PageNumber through the generic comparer, which boxes both keys on every comparison: keyed by PageNumber,
/// the pager's per-fault step was 3-4 times slower. Every function takes and gives PageNumber, so pages stay
/// a type of their own outside.
[<Struct>]
type PageMap<'T> = private { PagesByNumber: Map<uint64, 'T> }

module PageMap =
    let empty<'T> : PageMap<'T> = { PagesByNumber = Map.empty }
    let isEmpty (pages: PageMap<'T>) = pages.PagesByNumber.IsEmpty
    let count (pages: PageMap<'T>) = pages.PagesByNumber.Count
    let tryFind (page: PageNumber) (pages: PageMap<'T>) = pages.PagesByNumber.TryFind page.Value
    /// As tryFind, without allocating an option: for the per-fault path.
    let tryFindValue (page: PageNumber) (pages: PageMap<'T>) =
        match pages.PagesByNumber.TryGetValue page.Value with
        | true, value -> ValueSome value
        | _ -> ValueNone
    let find (page: PageNumber) (pages: PageMap<'T>) = pages.PagesByNumber.[page.Value]
    let containsKey (page: PageNumber) (pages: PageMap<'T>) = pages.PagesByNumber.ContainsKey page.Value
    let add (page: PageNumber) (value: 'T) (pages: PageMap<'T>) = { PagesByNumber = pages.PagesByNumber.Add(page.Value, value) }
    let remove (page: PageNumber) (pages: PageMap<'T>) = { PagesByNumber = pages.PagesByNumber.Remove page.Value }
    let map (change: PageNumber -> 'T -> 'U) (pages: PageMap<'T>) : PageMap<'U> =
        { PagesByNumber = pages.PagesByNumber |> Map.map (fun page value -> change (PageNumber page) value) }
    let filter (keep: PageNumber -> 'T -> bool) (pages: PageMap<'T>) =
        { PagesByNumber = pages.PagesByNumber |> Map.filter (fun page value -> keep (PageNumber page) value) }
    let exists (test: PageNumber -> 'T -> bool) (pages: PageMap<'T>) =
        pages.PagesByNumber |> Map.exists (fun page value -> test (PageNumber page) value)
    let fold (folder: 'S -> PageNumber -> 'T -> 'S) (state: 'S) (pages: PageMap<'T>) =
        pages.PagesByNumber |> Map.fold (fun s page value -> folder s (PageNumber page) value) state
    /// In ascending page order.
    let toList (pages: PageMap<'T>) = pages.PagesByNumber |> Map.toList |> List.map (fun (page, value) -> PageNumber page, value)
    /// In ascending page order.
    let keys (pages: PageMap<'T>) = pages.PagesByNumber |> Map.toList |> List.map (fun (page, _) -> PageNumber page)

/// A set of pages, kept as raw page numbers for the reason given at PageMap.
[<Struct>]
type PageSet = private { PageNumbers: Set<uint64> }

module PageSet =
    let empty: PageSet = { PageNumbers = Set.empty }
    let singleton (page: PageNumber) = { PageNumbers = Set.singleton page.Value }
    let isEmpty (pages: PageSet) = pages.PageNumbers.IsEmpty
    let count (pages: PageSet) = pages.PageNumbers.Count
    let contains (page: PageNumber) (pages: PageSet) = pages.PageNumbers.Contains page.Value
    let add (page: PageNumber) (pages: PageSet) = { PageNumbers = pages.PageNumbers.Add page.Value }
    let remove (page: PageNumber) (pages: PageSet) = { PageNumbers = pages.PageNumbers.Remove page.Value }
    let intersect (a: PageSet) (b: PageSet) = { PageNumbers = Set.intersect a.PageNumbers b.PageNumbers }
    let ofSeq (pages: PageNumber seq) = { PageNumbers = pages |> Seq.map (fun page -> page.Value) |> Set.ofSeq }
    /// In ascending page order.
    let fold (folder: 'S -> PageNumber -> 'S) (state: 'S) (pages: PageSet) =
        pages.PageNumbers |> Set.fold (fun s page -> folder s (PageNumber page)) state
    /// In ascending page order.
    let toList (pages: PageSet) = pages.PageNumbers |> Set.toList |> List.map PageNumber

/// A map from nodes, keyed inside by the raw node id for the reason given at PageMap: the pager counts the
/// pages each node homes on every first touch of a page, and keyed by NodeId a lookup and an update of that
/// count took 104 ns instead of 31 on a one-node map, 292 instead of 103 on a four-node one.
[<Struct>]
type NodeMap<'T> = private { NodesById: Map<int, 'T> }

module NodeMap =
    let empty<'T> : NodeMap<'T> = { NodesById = Map.empty }
    let tryFind (node: NodeId) (nodes: NodeMap<'T>) = nodes.NodesById.TryFind node.Value
    let add (node: NodeId) (value: 'T) (nodes: NodeMap<'T>) = { NodesById = nodes.NodesById.Add(node.Value, value) }
    let remove (node: NodeId) (nodes: NodeMap<'T>) = { NodesById = nodes.NodesById.Remove node.Value }

/// What a blocked access needs: a MISSING fault without UFFD_PAGEFAULT_FLAG_WRITE is a Read; a MISSING fault
/// with it, and every WP fault, is a Write.
type Access =
    | Read
    | Write

/// How a page is mapped into guest memory. WriteProtected pages are clean: their first write raises a WP
/// fault, which is how the pager learns a page became dirty.
type Protection =
    | Writable
    | WriteProtected

/// Where the newest bytes of a page are, besides (possibly) this node's guest memory.
type CopySource =
    /// Never written anywhere: the bytes are zeroes and need no transfer.
    | Zeroes
    /// The page store of that node holds them.
    | HeldBy of NodeId
