/// The guest physical memory layout of docs/design.md §4.3, identical to QEMU's pc machine so that our SRAT can be
/// compared range by range with QEMU's: node memory in node-id order, the legacy hole 640 KiB–1 MiB cut out
/// of the first node, and everything that would fall at or above 3 GiB moved above 4 GiB.
module SsiHv.Core.Memory.Layout

open SsiHv.Core.Topology

let MiB = 1024UL * 1024UL
let GiB = 1024UL * MiB
let legacyHoleStart = 0xA0000UL
let legacyHoleEnd = 0x100000UL
let mmioHoleStart = 3UL * GiB
let highMemoryStart = 4UL * GiB
let localApicAddress = 0xFEE00000UL
let ioApicAddress = 0xFEC00000UL

/// A contiguous range of guest-physical RAM homed on one NUMA node.
type MemoryRange = { Node: NodeId; Base: uint64; Length: uint64 }

module MemoryRange =
    let endExclusive (r: MemoryRange) = r.Base + r.Length
    let contains (address: uint64) (r: MemoryRange) = address >= r.Base && address < endExclusive r

/// Cuts [start, end) at the holes. `start`/`end` are in "flat RAM" coordinates, where RAM is contiguous from 0
/// and the MMIO hole has not been inserted yet; the result is guest-physical.
let private place (node: NodeId) (start: uint64) (finish: uint64) : MemoryRange list =
    let piece a b = if b > a then [ { Node = node; Base = a; Length = b - a } ] else []
    let belowLegacy = piece start (min finish legacyHoleStart)
    let low = piece (max start legacyHoleEnd) (min finish mmioHoleStart)
    let high =
        let a = max start mmioHoleStart
        if finish > a then piece (a + (highMemoryStart - mmioHoleStart)) (finish + (highMemoryStart - mmioHoleStart)) else []
    belowLegacy @ low @ high

/// Every RAM range of the guest, in address order, each tagged with its home node.
let ranges (t: Topology) : MemoryRange list =
    t.Nodes
    |> List.filter (fun n -> n.MemoryMiB > 0L)
    |> List.fold (fun (cursor, acc) n ->
        let size = uint64 n.MemoryMiB * MiB
        cursor + size, acc @ place n.Id cursor (cursor + size)) (0UL, [])
    |> snd

let rangesOfNode (t: Topology) (node: NodeId) = ranges t |> List.filter (fun r -> r.Node = node)

let nodeOfAddress (t: Topology) (address: uint64) =
    ranges t |> List.tryFind (MemoryRange.contains address) |> Option.map (fun r -> r.Node)

/// Bytes of RAM the guest can use: the configured total less the 384 KiB legacy hole, as on QEMU.
let usableBytes (t: Topology) = ranges t |> List.sumBy (fun r -> r.Length)
