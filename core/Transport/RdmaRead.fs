/// The decisions of a one-sided page fetch over RDMA (docs/transport.md, "RDMA"), kept free of verbs.
///
/// The home stores a page under a per-slot version word, as a sequence lock: the version goes odd before the
/// first byte is written and even after the last. The requester, with three RDMA READs ordered by the fence
/// flag (each starts only after the previous READ completed), reads the version, then the page, then the
/// version again. If both versions are equal and even, no store overlapped the page read, so the bytes are one
/// store's whole page; otherwise it reads again.
module SsiHv.Core.Transport.RdmaRead

open SsiHv.Core.Paging

/// The version read before and after the page: the page is whole only if no store began or ended in between.
let isConsistent (before: uint64) (after: uint64) = before = after && before % 2UL = 0UL

/// Reads that met a store in progress are repeated this often before the fetch goes over TCP (where the home
/// copies the page under its lock): a page stored continuously must not starve a fetch.
let maxAttempts = 8

/// Where slot `slot` of a home's registered pages and its version word lie, checked against the regions the home
/// announced: (page offset, version offset), or why the slot cannot be read.
let locate (slot: int64) (pagesLength: uint64) (versionsLength: uint64) : Result<uint64 * uint64, string> =
    let pageSize = uint64 Page.size
    if slot < 0L then Error("slot " + string slot + ": expected a slot >= 0")
    elif uint64 slot >= pagesLength / pageSize then
        Error("slot " + string slot + ": expected below " + string (pagesLength / pageSize) + ", the home's registered pages hold " + string pagesLength + " bytes")
    elif uint64 slot >= versionsLength / 8UL then
        Error("slot " + string slot + ": expected below " + string (versionsLength / 8UL) + ", the home's registered versions hold " + string versionsLength + " bytes")
    else Ok(uint64 slot * pageSize, uint64 slot * 8UL)

/// The path MTU of a connection: the smaller of both ends' active MTUs (ibv_mtu: 1 = 256 .. 5 = 4096 bytes).
let pathMtu (local: byte) (remote: byte) : Result<byte, string> =
    let valid (mtu: byte) = mtu >= 1uy && mtu <= 5uy
    if not (valid remote) then Error("the peer's MTU: expected an ibv_mtu value 1..5, found " + string remote)
    elif not (valid local) then Error("this port's MTU: expected an ibv_mtu value 1..5, found " + string local)
    else Ok(min local remote)
