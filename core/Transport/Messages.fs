/// What node hosts say to each other (docs/design.md §4.6): the authenticated hello, the pager's page transfers
/// and invalidations (docs/pager.md), errors and keep-alives. Values whose size the wire fixes (nonces,
/// proofs, pages, error texts) can only be built at that size, so every Message can be encoded.
namespace SsiHv.Core.Transport

open System
open System.Text
open SsiHv.Core.Paging
open SsiHv.Core.Topology

module internal FixedBytes =
    /// Fixed-size byte fields copy what they are given, so the caller's array can be reused without changing them.
    let copyExactly (length: int) (what: string) (wrap: byte[] -> 'field) (bytes: byte[]) =
        if bytes.Length = length then Ok(wrap (Array.copy bytes))
        else Error(what + " is " + string length + " bytes, found " + string bytes.Length)

/// A hello nonce: fresh random bytes from the shell for every connection, so no proof is valid twice.
type Nonce = internal Nonce of byte[]

module Nonce =
    let length = 32

    let tryCreate (bytes: byte[]) = FixedBytes.copyExactly length "a nonce" Nonce bytes

    let toArray (Nonce bytes) = Array.copy bytes

/// HMAC-SHA256 of a hello (Hello.fs says over what).
type Proof = internal Proof of byte[]

module Proof =
    let length = 32

    let tryCreate (bytes: byte[]) = FixedBytes.copyExactly length "a proof" Proof bytes

    let toArray (Proof bytes) = Array.copy bytes

/// The 4 KiB of one guest page.
type PageBytes = internal PageBytes of byte[]

module PageBytes =
    let length = int Page.size

    let tryCreate (bytes: byte[]) = FixedBytes.copyExactly length "a page" PageBytes bytes

    let toArray (PageBytes bytes) = Array.copy bytes

/// An RDMA port's global identifier (union ibv_gid): RoCE addresses a port by it, InfiniBand by LID.
type Gid = internal Gid of byte[]

module Gid =
    let length = 16

    let tryCreate (bytes: byte[]) = FixedBytes.copyExactly length "a GID" Gid bytes

    let toArray (Gid bytes) = Array.copy bytes

    /// The RoCE v2 GID of an IPv4 address, ::ffff:a.b.c.d (an IPv4-mapped IPv6 address), which a RoCE port lists
    /// for every IPv4 address of its network interface. None unless `ipv4` has 4 bytes.
    let ofIPv4 (ipv4: byte[]) : Gid option =
        if ipv4.Length = 4 then Some(Gid(Array.concat [ Array.zeroCreate 10; [| 0xFFuy; 0xFFuy |]; ipv4 ])) else None

    /// Which entry of a port's GID table (index, GID) routes RoCE v2 traffic for `ipv4`: the one that is its
    /// IPv4-mapped GID. Between machines only that one works (the link-local GID at index 0 does not leave the
    /// link as RoCE v2 over IPv4); None when the port lists no GID for that address.
    let indexForIPv4 (table: (int * Gid) list) (ipv4: byte[]) : int option =
        match ofIPv4 ipv4 with
        | Some(Gid wanted) -> table |> List.tryPick (fun (index, Gid bytes) -> if bytes = wanted then Some index else None)
        | None -> None

/// One end of a reliable-connected queue pair, as the other end needs it to connect (docs/transport.md, "RDMA"):
/// QP number, the first packet sequence number it sends, its port's LID and GID, and the path MTU (ibv_mtu).
type RdmaEndpoint =
    { QueuePair: uint32
      PacketSequence: uint32
      Lid: uint16
      Gid: Gid
      Mtu: byte }

/// Registered memory a peer may RDMA READ: its address in the owner's process, the rkey, and the byte length.
type RdmaRegion =
    { Address: uint64
      Key: uint32
      Length: uint64 }

/// What went wrong, for a program: the text is for a person.
type ErrorCode = uint16

module ErrorCode =
    /// The hello failed: wrong secret, replayed proof, or a message out of order.
    let helloRejected: ErrorCode = 1us
    /// The request is not one this node serves (e.g. FetchPage for a page it does not home).
    let unsupportedRequest: ErrorCode = 2us
    /// The peer sent bytes that are not a frame; the connection is closed after this error.
    let malformedFrame: ErrorCode = 3us

/// UTF-8 text of at most `maxBytes` bytes, so an error message cannot make a frame unbounded.
type ErrorText = internal ErrorText of string

module ErrorText =
    let maxBytes = 256

    /// Total: unpaired surrogates become U+FFFD (as UTF-8 encoding does) and the text is cut at the last whole
    /// character that fits, so any string gives a text that survives the wire unchanged.
    let ofString (text: string | null) =
        let bytes =
            match text with
            | null -> [||]
            | text -> Encoding.UTF8.GetBytes text
        let isContinuation (b: byte) = b &&& 0xC0uy = 0x80uy
        let rec cut at = if at < bytes.Length && isContinuation bytes.[at] then cut (at - 1) else at
        let length = if bytes.Length <= maxBytes then bytes.Length else cut maxBytes
        ErrorText(Encoding.UTF8.GetString(bytes, 0, length))

    let value (ErrorText text) = text

type Message =
    /// Opens a connection: who I am and the nonce you must prove knowledge of the secret over.
    | Hello of node: NodeId * nonce: Nonce
    | HelloProof of Proof
    /// The pager's `Fetch(page, node)`, sent to the page's home.
    | FetchPage of PageNumber
    | PageData of PageNumber * PageBytes
    /// The pager's `CopyOut(page, node)`: keep these bytes as the page's newest copy.
    | StorePage of PageNumber * PageBytes
    /// The home holds the bytes of StorePage: the pager's `WriteBackDone`.
    | Stored of PageNumber
    /// Another node is about to write the page: the pager's `RemoteInvalidate(page, requester)`.
    | Invalidate of PageNumber * requester: NodeId
    /// The pager's `AcknowledgeInvalidate`: no copy of the page is left here.
    | InvalidateAck of PageNumber
    | ErrorReply of ErrorCode * ErrorText
    | Ping
    | Pong
    /// RDMA side channel: the requester's queue pair, asking the home to connect one to it.
    | RdmaConnect of RdmaEndpoint
    /// The home's queue pair, its page slots (4096 bytes each) and their version words (8 bytes each).
    | RdmaAccept of RdmaEndpoint * pages: RdmaRegion * versions: RdmaRegion
    /// Which slot of the home's registered pages holds this page?
    | LocatePage of PageNumber
    /// The page's slot; -1 when the page was never stored (it reads as zeroes). A slot, once given, never changes.
    | PageLocation of PageNumber * slot: int64

/// One message and the id that pairs a reply with its request (replies carry the request's id).
type Envelope = { RequestId: uint64; Message: Message }

module Message =
    /// A short name for logs and decode errors.
    let name (message: Message) =
        match message with
        | Hello _ -> "Hello"
        | HelloProof _ -> "HelloProof"
        | FetchPage _ -> "FetchPage"
        | PageData _ -> "PageData"
        | StorePage _ -> "StorePage"
        | Stored _ -> "Stored"
        | Invalidate _ -> "Invalidate"
        | InvalidateAck _ -> "InvalidateAck"
        | ErrorReply _ -> "ErrorReply"
        | Ping -> "Ping"
        | Pong -> "Pong"
        | RdmaConnect _ -> "RdmaConnect"
        | RdmaAccept _ -> "RdmaAccept"
        | LocatePage _ -> "LocatePage"
        | PageLocation _ -> "PageLocation"
