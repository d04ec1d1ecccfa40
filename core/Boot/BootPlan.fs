/// Where boot data goes in guest RAM and the vCPU state at the kernel's entry, decided purely. Both protocols
/// (Pvh.fs, BzImage.fs) build their chunks here; the shell only copies each chunk's bytes and sets registers.
/// Fixed low addresses follow Firecracker/Cloud Hypervisor (GDT 0x500, zero page 0x7000, boot stack below
/// 0x9000, PML4 0x9000, PDPT 0xA000, PD 0xB000, command line 0x20000): all in the RAM below 640 KiB that the
/// layout always has (docs/design.md §4.3), and every one is still checked against the RAM ranges.
module SsiHv.Core.Boot.BootPlan

open System
open System.Buffers.Binary
open SsiHv.Core.Memory
open SsiHv.Core.Topology

/// Bytes the shell copies to guest-physical `Address`. The chunk owns [Address, Address + Extent); the part past
/// `Bytes` must read as zero (ELF p_memsz beyond p_filesz, a bzImage's init_size, the boot stack).
type Chunk = { Name: string; Address: uint64; Bytes: ReadOnlyMemory<byte>; Extent: uint64 }

module Chunk =
    let endExclusive (c: Chunk) = c.Address + c.Extent
    let ofBytes (name: string) (address: uint64) (bytes: byte[]) =
        { Name = name; Address = address; Bytes = ReadOnlyMemory bytes; Extent = uint64 bytes.Length }

/// A segment register as KVM's `struct kvm_segment` holds it: the limit in bytes (already scaled by G).
type SegmentRegister =
    { Selector: uint16
      Base: uint64
      Limit: uint32
      Type: byte
      Present: bool
      Dpl: byte
      /// D/B: 32-bit default operand size.
      DefaultSize32: bool
      /// S: a code or data segment (not a system segment such as the TSS).
      CodeOrData: bool
      /// L: a 64-bit code segment.
      Long: bool
      Granularity4K: bool }

/// The registers a vCPU starts with; everything not listed is the architectural reset value.
type EntryState =
    { Rip: uint64
      Rsp: uint64
      Rsi: uint64
      Rbx: uint64
      Rflags: uint64
      Cr0: uint64
      Cr3: uint64
      Cr4: uint64
      Efer: uint64
      Cs: SegmentRegister
      Ds: SegmentRegister
      Es: SegmentRegister
      Fs: SegmentRegister
      Gs: SegmentRegister
      Ss: SegmentRegister
      Tr: SegmentRegister
      GdtBase: uint64
      GdtLimit: uint16
      IdtBase: uint64
      IdtLimit: uint16 }

/// Everything the shell needs to start the guest: bytes to copy (disjoint, inside RAM) and the entry state.
type Plan = { Chunks: Chunk list; Entry: EntryState }

/// What the user chose, common to both protocols. `Ranges` is `Layout.ranges topology`; `RsdpAddress` is
/// `TableSet.rsdpAddress` when our ACPI tables are loaded.
type BootInputs =
    { Ranges: Layout.MemoryRange list
      CommandLine: string
      Initrd: ReadOnlyMemory<byte> option
      RsdpAddress: uint64 }

let gdtAddress = 0x500UL
let startInfoAddress = 0x6000UL
let zeroPageAddress = 0x7000UL
let bootStackAddress = 0x8000UL
let bootStackSize = 0x1000UL
let pml4Address = 0x9000UL
let pdptAddress = 0xA000UL
let pageDirectoryAddress = 0xB000UL
let commandLineAddress = 0x20000UL
let pageSize = 0x1000UL

/// The page tables map [0, 4 GiB): boot.rst's 64-bit protocol needs the kernel, zero page and command line
/// identity-mapped, and everything we place lies below 4 GiB.
let identityMapEnd = 4UL * Layout.GiB

/// Linux's zero page holds at most E820_MAX_ENTRIES_ZEROPAGE = 128 entries (arch/x86/include/uapi/asm/bootparam.h);
/// the PVH memory map shares the limit so one map serves both protocols.
let maxMemoryMapEntries = 128

let alignDown (alignment: uint64) (value: uint64) = value / alignment * alignment
let alignUp (alignment: uint64) (value: uint64) = (value + alignment - 1UL) / alignment * alignment

let private table (entries: uint64[]) =
    let bytes = Array.zeroCreate (int pageSize)
    entries |> Array.iteri (fun i e -> BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), e))
    bytes

let private present = 0x1UL
let private writable = 0x2UL
/// PS in a page-directory entry: the entry maps a 2 MiB page (Intel SDM vol. 3 §4.5).
let private largePage = 0x80UL
let private twoMiB = 2UL * Layout.MiB
let private pageDirectoryCount = int (identityMapEnd / Layout.GiB)

/// PML4 → one PDPT → four page directories of 2 MiB pages, identity-mapping [0, 4 GiB).
let pageTables: Chunk list =
    let pml4 = table [| pdptAddress ||| present ||| writable |]
    let pdpt = table (Array.init pageDirectoryCount (fun i -> (pageDirectoryAddress + uint64 i * pageSize) ||| present ||| writable))
    let directories =
        Array.init pageDirectoryCount (fun i -> table (Array.init 512 (fun j -> uint64 (i * 512 + j) * twoMiB ||| present ||| writable ||| largePage)))
        |> Array.concat
    [ Chunk.ofBytes "PML4" pml4Address pml4
      Chunk.ofBytes "PDPT" pdptAddress pdpt
      Chunk.ofBytes "page directories" pageDirectoryAddress directories ]

/// A GDT descriptor from access/flags bits (0xFxFF of bits 40..55), base and 20-bit limit (Intel SDM vol. 3 §3.4.5).
let private descriptor (flags: uint64) (baseAddress: uint64) (limit: uint64) =
    ((baseAddress &&& 0xFF000000UL) <<< 32) ||| ((flags &&& 0xF0FFUL) <<< 40) ||| ((limit &&& 0xF0000UL) <<< 32)
    ||| ((baseAddress &&& 0xFFFFFFUL) <<< 16) ||| (limit &&& 0xFFFFUL)

/// Present, ring 0, execute/read, accessed; G=1 and L=1 (64-bit) or D=1 (32-bit).
let private code64 = descriptor 0xA09BUL 0UL 0xFFFFFUL
let private code32 = descriptor 0xC09BUL 0UL 0xFFFFFUL
/// Present, ring 0, read/write, accessed; G=1, D/B=1: the 4 GiB flat data segment.
let private data = descriptor 0xC093UL 0UL 0xFFFFFUL
/// A busy TSS with base 0 and limit 0x67, as PVH requires of TR (docs/misc/pvh.pandoc); KVM needs a valid TR in
/// long mode too. In long mode the descriptor is 16 bytes: the next slot holds the zero upper base.
let private tss = descriptor 0x008BUL 0UL 0x67UL

/// Selectors 0x10 (code) and 0x18 (data) are __BOOT_CS and __BOOT_DS, which boot.rst's 32- and 64-bit protocols
/// require; 0x20 is the TSS.
let private codeIndex, dataIndex, tssIndex = 2, 3, 4

let private gdtOf (code: uint64) = [| 0UL; 0UL; code; data; tss; 0UL |]

let private segmentOf (index: int) (d: uint64) =
    let bit n = (d >>> n) &&& 1UL = 1UL
    let granularity = bit 55
    let rawLimit = uint32 ((d &&& 0xFFFFUL) ||| ((d >>> 32) &&& 0xF0000UL))
    { Selector = uint16 (index * 8)
      Base = ((d >>> 16) &&& 0xFFFFFFUL) ||| ((d >>> 32) &&& 0xFF000000UL)
      Limit = (if granularity then (rawLimit <<< 12) ||| 0xFFFu else rawLimit)
      Type = byte ((d >>> 40) &&& 0xFUL)
      Present = bit 47
      Dpl = byte ((d >>> 45) &&& 3UL)
      DefaultSize32 = bit 54
      CodeOrData = bit 44
      Long = bit 53
      Granularity4K = granularity }

let private cr0ProtectionEnable = 0x1UL
let private cr0Paging = 0x80000000UL
let private cr4Pae = 0x20UL
let private eferLongModeEnable = 0x100UL
let private eferLongModeActive = 0x400UL
/// Bit 1 of RFLAGS always reads 1; IF (bit 9) stays clear: both protocols start with interrupts off.
let private rflagsReserved = 0x2UL
let private stackPointer = bootStackAddress + bootStackSize - 16UL

let private entryWith (code: uint64) (rip: uint64) =
    let gdt = gdtOf code
    let dataSegment = segmentOf dataIndex gdt.[dataIndex]
    { Rip = rip; Rsp = stackPointer; Rsi = 0UL; Rbx = 0UL; Rflags = rflagsReserved
      Cr0 = 0UL; Cr3 = 0UL; Cr4 = 0UL; Efer = 0UL
      Cs = segmentOf codeIndex gdt.[codeIndex]
      Ds = dataSegment; Es = dataSegment; Fs = dataSegment; Gs = dataSegment; Ss = dataSegment
      Tr = segmentOf tssIndex gdt.[tssIndex]
      GdtBase = gdtAddress; GdtLimit = uint16 (8 * gdt.Length - 1)
      // No IDT: interrupts stay off until the kernel loads its own, and an early exception then shuts the
      // guest down visibly instead of jumping through an empty gate.
      IdtBase = 0UL; IdtLimit = 0us }

let private gdtChunk (code: uint64) = Chunk.ofBytes "GDT" gdtAddress (gdtOf code |> Array.collect (fun d -> let b = Array.zeroCreate 8 in BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(), d); b))

/// Space that belongs to one purpose but is filled later (or by the guest).
let reservation (name: string) (address: uint64) (extent: uint64) =
    { Name = name; Address = address; Bytes = ReadOnlyMemory.Empty; Extent = extent }

let private bootStack = { Name = "boot stack"; Address = bootStackAddress; Bytes = ReadOnlyMemory.Empty; Extent = bootStackSize }

/// PVH entry (start_info.h, docs/misc/pvh.pandoc): 32-bit protected mode, paging off (CR0 = PE), flat 4 GiB
/// CS/DS/ES/SS, EBX = guest-physical address of hvm_start_info.
let protectedModeEntry (entry: uint32) (startInfo: uint64) =
    { entryWith code32 (uint64 entry) with Rbx = startInfo; Cr0 = cr0ProtectionEnable }

/// 64-bit Linux entry (boot.rst, "64-bit Boot Protocol"): long mode with paging on our identity map, flat
/// __BOOT_CS/__BOOT_DS, RSI = guest-physical address of the zero page.
let longModeEntry (rip: uint64) (zeroPage: uint64) =
    { entryWith code64 rip with
        Rsi = zeroPage
        Cr0 = cr0ProtectionEnable ||| cr0Paging
        Cr3 = pml4Address
        Cr4 = cr4Pae
        Efer = eferLongModeEnable ||| eferLongModeActive }

/// The chunks both entries need: the GDT their segment registers come from and the stack RSP points into.
let protectedModeSupport = [ gdtChunk code32; bootStack ]
let longModeSupport = [ gdtChunk code64; bootStack ] @ pageTables

/// Where a chunk must go, as a planning error names it: [Address, End).
type ChunkExtent = { Name: string; Address: uint64; End: uint64 }

/// Why the chunks of a boot cannot be placed in guest RAM.
type PlanError =
    | CommandLineHasNul
    | CommandLineTooLong of length: int * limitSource: string * maxLength: uint64
    | ChunkWraps of ChunkExtent
    /// The chunk starts in RAM (or above all of it) but runs past the end of the node's RAM at `ramEnd`.
    | RamEndsBefore of ChunkExtent * node: NodeId * ramEnd: uint64
    | NotRam of ChunkExtent * ram: Layout.MemoryRange list
    | ChunksOverlap of ChunkExtent * ChunkExtent
    | EmptyInitrd
    | NoRoomForInitrd of size: uint64 * limit: uint64 * ram: Layout.MemoryRange list

/// The command line as a NUL-terminated string at `commandLineAddress`; `maxLength` excludes the NUL, as
/// boot.rst's cmdline_size does. `limitSource` says whose limit it is, for the message.
let commandLine (limitSource: string) (maxLength: uint64) (text: string) : Result<Chunk, PlanError> =
    let bytes = Text.Encoding.UTF8.GetBytes text
    if text.Contains '\000' then Error CommandLineHasNul
    elif uint64 bytes.Length > maxLength then Error(CommandLineTooLong(bytes.Length, limitSource, maxLength))
    else Ok(Chunk.ofBytes "command line" commandLineAddress (Array.append bytes [| 0uy |]))

let private hex (v: uint64) = String.Format("0x{0:X}", v)

/// Contiguous RAM as [start, end) runs, ranges of different nodes that touch merged; each run remembers the node
/// of its last byte, which is the node whose RAM "ends" there.
let private runs (ranges: Layout.MemoryRange list) =
    ranges
    |> List.filter (fun r -> r.Length > 0UL)
    |> List.sortBy (fun r -> r.Base)
    |> List.fold (fun acc r ->
        match acc with
        | (start, finish, _) :: rest when finish = r.Base -> (start, Layout.MemoryRange.endExclusive r, r.Node) :: rest
        | _ -> (r.Base, Layout.MemoryRange.endExclusive r, r.Node) :: acc) []
    |> List.rev

let private describeRam ranges =
    runs ranges |> List.map (fun (s, e, _) -> String.Format("[{0}, {1}]", (hex s), (hex (e - 1UL)))) |> String.concat ", "

let private extentOf (c: Chunk) = { Name = c.Name; Address = c.Address; End = Chunk.endExclusive c }

/// Ok when the chunk lies wholly in RAM; otherwise says which RAM it ran out of.
let requireRam (ranges: Layout.MemoryRange list) (c: Chunk) : Result<unit, PlanError> =
    let finish = Chunk.endExclusive c
    if c.Extent = 0UL then Ok()
    elif finish < c.Address then Error(ChunkWraps(extentOf c))
    else
        let tooSmall node (e: uint64) = Error(RamEndsBefore(extentOf c, node, e))
        let all = runs ranges
        match all |> List.tryFind (fun (s, e, _) -> c.Address >= s && c.Address < e), List.tryLast all with
        | Some(_, e, _), _ when finish <= e -> Ok()
        | Some(_, e, node), _ -> tooSmall node e
        | None, Some(_, e, node) when c.Address >= e -> tooSmall node e
        | None, _ -> Error(NotRam(extentOf c, ranges))

/// Ok when no two chunks share a byte.
let requireDisjoint (chunks: Chunk list) : Result<unit, PlanError> =
    chunks
    |> List.filter (fun c -> c.Extent > 0UL)
    |> List.sortBy (fun c -> c.Address)
    |> List.pairwise
    |> List.tryFind (fun (a, b) -> Chunk.endExclusive a > b.Address)
    |> function
        | None -> Ok()
        | Some(a, b) -> Error(ChunksOverlap(extentOf a, extentOf b))

let private firstError (checks: Result<unit, PlanError> list) =
    checks |> List.tryPick (function Error e -> Some e | Ok() -> None) |> function None -> Ok() | Some e -> Error e

/// Checks every chunk against RAM and against each other: a plan that passes can be copied blindly.
let validate (ranges: Layout.MemoryRange list) (chunks: Chunk list) : Result<Chunk list, PlanError> =
    firstError ((chunks |> List.map (requireRam ranges)) @ [ requireDisjoint chunks ]) |> Result.map (fun () -> chunks)

/// The highest page-aligned address where `size` bytes fit in RAM below `limit` without touching `occupied`.
/// The best placement ends at a RAM run's end (or `limit`) or at the start of an occupied chunk, rounded down to
/// the page, so only those candidates need trying.
let placeHighest (ranges: Layout.MemoryRange list) (occupied: Chunk list) (limit: uint64) (size: uint64) : uint64 option =
    let fits (a: uint64) =
        let candidate = { Name = ""; Address = a; Bytes = ReadOnlyMemory.Empty; Extent = size }
        a + size <= limit && requireRam ranges candidate = Ok()
        && occupied |> List.forall (fun c -> c.Extent = 0UL || Chunk.endExclusive c <= a || a + size <= c.Address)
    let ends = (runs ranges |> List.map (fun (_, e, _) -> min e limit)) @ (occupied |> List.map (fun c -> min c.Address limit))
    ends
    |> List.filter (fun e -> e >= size)
    |> List.map (fun e -> alignDown pageSize (e - size))
    |> List.filter fits
    |> function [] -> None | candidates -> Some(List.max candidates)

/// The initrd placed as high as possible below `limit` (boot.rst: "as high as possible" below initrd_addr_max),
/// page aligned, clear of everything already planned.
let placeInitrd (ranges: Layout.MemoryRange list) (occupied: Chunk list) (limit: uint64) (initrd: ReadOnlyMemory<byte>) : Result<Chunk, PlanError> =
    let size = uint64 initrd.Length
    if size = 0UL then Error EmptyInitrd
    else
        match placeHighest ranges occupied limit size with
        | Some a -> Ok { Name = "initrd"; Address = a; Bytes = initrd; Extent = size }
        | None -> Error(NoRoomForInitrd(size, limit, ranges))

module PlanError =
    let text (error: PlanError) =
        let needs (c: ChunkExtent) = String.Format("{0} needs [{1}, {2})", c.Name, (hex c.Address), (hex c.End))
        match error with
        | CommandLineHasNul -> "the command line contains a NUL character, which would end it early"
        | CommandLineTooLong(length, limitSource, maxLength) ->
            String.Format("the command line is {0} bytes but {1} allows at most {2}", length, limitSource, maxLength)
        | ChunkWraps c -> String.Format("{0}: the range wraps around the 64-bit address space", (needs c))
        | RamEndsBefore(c, node, ramEnd) ->
            String.Format("memory too small for the image: {0} but RAM of node {1} ends at {2}", (needs c), node.Value, (hex (ramEnd - 1UL)))
        | NotRam(c, ram) -> String.Format("{0} but {1} is not RAM (guest RAM: {2})", (needs c), (hex c.Address), (describeRam ram))
        | ChunksOverlap(a, b) ->
            String.Format("{0} [{1}, {2}) overlaps {3} [{4}, {5})", a.Name, (hex a.Address), (hex a.End), b.Name, (hex b.Address), (hex b.End))
        | EmptyInitrd -> "the initrd is empty"
        | NoRoomForInitrd(size, limit, ram) ->
            String.Format("memory too small for the image: no room for the initrd's {0} bytes ({1}) in RAM below {2} ", size, (hex size), (hex limit))
            + String.Format("beside the kernel and boot data (guest RAM: {0})", (describeRam ram))
