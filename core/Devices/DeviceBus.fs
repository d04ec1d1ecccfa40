/// The address ranges of a device bus, port I/O or MMIO (after Cloud Hypervisor's vm-device Bus): which device
/// claims an address, at which offset, and whether a new range may join. The shell keeps the devices and their
/// state; this module only decides.
module SsiHv.Core.Devices.DeviceBus

open System

/// `Length` addresses from `First` on; never empty, never past the end of the address space.
type BusRange = private { First: uint64; Length: uint64 }

module BusRange =
    let create (first: uint64) (length: uint64) : Result<BusRange, string> =
        if length = 0UL then Error (String.Format("an empty range at 0x{0:X} claims nothing", first))
        elif length - 1UL > System.UInt64.MaxValue - first then
            Error (String.Format("a range of {0} bytes at 0x{1:X} runs past the end of the address space", length, first))
        else Ok { First = first; Length = length }

    let first (range: BusRange) = range.First
    let length (range: BusRange) = range.Length
    let last (range: BusRange) = range.First + (range.Length - 1UL)
    let contains (address: uint64) (range: BusRange) = address >= range.First && address - range.First < range.Length
    let overlaps (a: BusRange) (b: BusRange) = a.First <= last b && b.First <= last a
    let describe (range: BusRange) = String.Format("0x{0:X}-0x{1:X}", range.First, (last range))

/// The ranges attached so far, each with what the shell attached there, in attach order; no two overlap.
type Bus<'device> = private { Attached: (BusRange * 'device) list }

let empty<'device> : Bus<'device> = { Attached = [] }

let attached (bus: Bus<'device>) = bus.Attached

/// Adds `range` for `device`, unless it overlaps a range already attached (the error names both).
let attach (range: BusRange) (device: 'device) (bus: Bus<'device>) : Result<Bus<'device>, string> =
    match bus.Attached |> List.tryFind (fst >> BusRange.overlaps range) with
    | Some (existing, _) -> Error (String.Format("{0} overlaps {1}, already attached", (BusRange.describe range), (BusRange.describe existing)))
    | None -> Ok { Attached = bus.Attached @ [ range, device ] }

/// The device whose range holds `address` and the offset of `address` in that range; None: nobody claims it.
let find (address: uint64) (bus: Bus<'device>) : struct ('device * uint64) voption =
    match bus.Attached |> List.tryFind (fst >> BusRange.contains address) with
    | Some (range, device) -> ValueSome(struct (device, address - BusRange.first range))
    | None -> ValueNone
