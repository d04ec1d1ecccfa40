namespace SsiHv.Core.Paging

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

/// A node host, by its topology id (docs/design.md §4.2). Every transfer names one, because pages move between
/// nodes and vCPUs may come to run on several of them (docs/design.md §7).
type NodeId = int

/// One userfaultfd fault message. The pager wakes each exactly once, so the shell can count and trace faults.
[<Struct>]
type FaultId =
    | FaultId of uint64

    member fault.Value = let (FaultId value) = fault in value

module Page =
    let size = 4096UL
    let ofAddress (GuestAddress address) = PageNumber(address / size)
    let address (PageNumber page) = GuestAddress(page * size)

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
