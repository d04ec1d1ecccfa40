/// The guest's physical memory map in the BIOS e820 form that both boot protocols hand to the kernel: the Linux
/// zero page (boot.rst, `e820_table`) and PVH's `hvm_start_info` memory map (start_info.h, whose
/// XEN_HVM_MEMMAP_TYPE_* values are the e820 types).
module SsiHv.Core.Boot.E820

open SsiHv.Core.Memory
open SsiHv.Core.Acpi

/// The e820 types we report; the kernel treats any other area as not RAM.
type E820Type =
    /// Type 1 (E820_TYPE_RAM): RAM the kernel may use.
    | Usable
    /// Type 2 (E820_TYPE_RESERVED): the ACPI tables' BIOS area, which the kernel must leave alone.
    | Reserved

module E820Type =
    let code =
        function
        | Usable -> 1u
        | Reserved -> 2u

type E820Entry = { Base: uint64; Length: uint64; Type: E820Type }

module E820Entry =
    let endExclusive (e: E820Entry) = e.Base + e.Length

/// The area holding the ACPI tables (TableSet places the RSDP at its start, where Linux's legacy scan looks).
let acpiArea = { Base = TableSet.rsdpAddress; Length = TableSet.areaEnd - TableSet.rsdpAddress; Type = Reserved }

/// Usable entries for `ranges` (exactly-adjacent ranges merged, so a node boundary inside contiguous RAM does not
/// split an entry) plus the reserved ACPI area, sorted by address.
let ofRanges (ranges: Layout.MemoryRange list) : E820Entry list =
    let merge (acc: E820Entry list) (r: Layout.MemoryRange) =
        match acc with
        | last :: rest when E820Entry.endExclusive last = r.Base -> { last with Length = last.Length + r.Length } :: rest
        | _ -> { Base = r.Base; Length = r.Length; Type = Usable } :: acc
    ranges
    |> List.filter (fun r -> r.Length > 0UL)
    |> List.sortBy (fun r -> r.Base)
    |> List.fold merge []
    |> List.append [ acpiArea ]
    |> List.sortBy (fun e -> e.Base)

let ofTopology t = ofRanges (Layout.ranges t)
