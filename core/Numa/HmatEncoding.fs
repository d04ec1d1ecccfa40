/// How HMAT revision 2 encodes latency and bandwidth: one 64-bit base unit per structure and 16-bit entries,
/// value = entry × base. Linux (drivers/acpi/numa/hmat.c, hmat_normalize) reads latency in picoseconds and
/// bandwidth in MB/s for revision 2, treats entries 0 and 0xFFFF as "no information", and drops values that
/// do not fit 32 bits (`Acpi.NumaView.normalize` models all of it).
module SsiHv.Core.Numa.HmatEncoding

open System
open SsiHv.Core.Topology

/// The entries HMAT carries: rows of initiators (nodes with CPUs), columns of nodes with memory. Other
/// entries of the topology's matrices are ignored (docs/design.md §4.2).
let usedEntries (nodes: Node list) (m: 'a list list) =
    let initiators = nodes |> List.filter (fun n -> n.Cpus > 0) |> List.map (fun n -> n.Id)
    let targets = nodes |> List.filter (fun n -> n.MemoryMiB > 0L) |> List.map (fun n -> n.Id)
    // Indexed as arrays: indexing the lists made this cubic in the node count (9 ms of the HMAT's build at 64 nodes).
    let rows = m |> List.map Array.ofList |> Array.ofList
    initiators |> List.map (fun i -> targets |> List.map (fun j -> rows.[i.Value].[j.Value]))

let maxEntry = 0xFFFEL
let picosecondsPerNanosecond = 1000L

/// hmat_normalize computes entry × base unit as a 32-bit value and reads anything above UINT_MAX as "no value".
let linuxMaxValue = int64 System.UInt32.MaxValue

/// The largest latency Linux keeps. Beyond the UINT_MAX limit on picoseconds, its DIV_ROUND_UP to nanoseconds
/// also runs in 32 bits: `ps + 999` wraps to a small number, and so to 0 ns, for ps above UINT_MAX - 999.
/// So 4294966 ns, not 4294967.
let maxLatencyNs = (linuxMaxValue - (picosecondsPerNanosecond - 1L)) / picosecondsPerNanosecond

/// The largest bandwidth Linux keeps: revision 2 bandwidth is used as entry × base unit, in MB/s.
let maxBandwidthMBps = linuxMaxValue

type Encoded = { BaseUnit: uint64; Entries: uint16 list list }

/// The largest power of ten dividing every value, so that entries are exact: a rounded entry would show
/// the guest a latency the user never wrote. Error text says which range does not fit 16 bits.
let encode (values: int64 list list) : Result<Encoded, string> =
    let flat = List.concat values
    let rec commonPowerOfTen (b: int64) =
        if b <= System.Int64.MaxValue / 10L && flat |> List.forall (fun v -> v % (b * 10L) = 0L) then
            commonPowerOfTen (b * 10L)
        else b
    match flat with
    | [] -> Ok { BaseUnit = 1UL; Entries = values |> List.map (List.map (fun _ -> 0us)) }
    | _ when List.exists (fun v -> v <= 0L) flat -> Error "every value must be a positive integer"
    | _ ->
        let unit = commonPowerOfTen 1L
        let largest = List.max flat
        if largest / unit > maxEntry then
            Error(
                String.Format("values {0}..{1} need a common base unit of {2} and then {3} does not fit ", (List.min flat), largest, unit, (largest / unit))
                + String.Format("HMAT's 16-bit entries (at most {0}); use values with more trailing zeros or a narrower range", maxEntry)
            )
        else
            Ok { BaseUnit = uint64 unit; Entries = values |> List.map (List.map (fun v -> uint16 (v / unit))) }
