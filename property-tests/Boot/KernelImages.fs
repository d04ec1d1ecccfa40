/// Synthetic kernel images for the boot properties: bzImages with a setup header laid out as boot.rst says and
/// ELF32/ELF64 files with PT_LOAD segments and a XEN_ELFNOTE_PHYS32_ENTRY note, written byte by byte here so
/// that the parsers are checked against an independent encoder.
module SsiHv.PropertyTests.Boot.KernelImages

open System
open System.Buffers.Binary

let private put (bytes: byte[]) (offset: int) (size: int) (value: uint64) =
    let span = bytes.AsSpan(offset, size)
    match size with
    | 1 -> span.[0] <- byte value
    | 2 -> BinaryPrimitives.WriteUInt16LittleEndian(span, uint16 value)
    | 4 -> BinaryPrimitives.WriteUInt32LittleEndian(span, uint32 value)
    | _ -> BinaryPrimitives.WriteUInt64LittleEndian(span, value)

type BzSpec =
    { SetupSects: byte
      Version: uint16
      LoadFlags: byte
      XLoadFlags: uint16
      InitSize: uint32
      PrefAddress: uint64
      CmdlineSize: uint32
      InitrdAddrMax: uint32
      KernelAlignment: uint32
      Relocatable: bool
      PayloadLength: int }

/// Debian 6.1's header values, scaled down: a header the parser must accept.
let validBz =
    { SetupSects = 0x27uy; Version = 0x020Fus; LoadFlags = 0x01uy; XLoadFlags = 0x7Fus; InitSize = 0x400000u
      PrefAddress = 0x1000000UL; CmdlineSize = 0x7FFu; InitrdAddrMax = 0x7FFFFFFFu; KernelAlignment = 0x200000u
      Relocatable = true; PayloadLength = 4096 }

/// The header ends at 0x26C (Debian's: 0x202 + 0x6A), inside the 2.12+ range.
let bzHeaderEnd = 0x26C

let bzImage (s: BzSpec) =
    let setupSectors = if s.SetupSects = 0uy then 4 else int s.SetupSects
    let bytes = Array.zeroCreate ((setupSectors + 1) * 512 + s.PayloadLength)
    put bytes 0x1F1 1 (uint64 s.SetupSects)
    put bytes 0x1FE 2 0xAA55UL
    put bytes 0x200 1 0xEBUL
    put bytes 0x201 1 (uint64 (bzHeaderEnd - 0x202))
    put bytes 0x202 4 0x53726448UL
    put bytes 0x206 2 (uint64 s.Version)
    put bytes 0x211 1 (uint64 s.LoadFlags)
    put bytes 0x22C 4 (uint64 s.InitrdAddrMax)
    put bytes 0x230 4 (uint64 s.KernelAlignment)
    put bytes 0x234 1 (if s.Relocatable then 1UL else 0UL)
    put bytes 0x236 2 (uint64 s.XLoadFlags)
    put bytes 0x238 4 (uint64 s.CmdlineSize)
    put bytes 0x258 8 s.PrefAddress
    put bytes 0x260 4 (uint64 s.InitSize)
    for i in (setupSectors + 1) * 512 .. bytes.Length - 1 do bytes.[i] <- byte (i * 7)
    bytes

type NotePlace =
    | InProgramHeader
    | InSection
    | Nowhere

type ElfSegment = { PhysicalAddress: uint64; FileSize: int; MemorySize: uint64 }

type ElfSpec =
    { Is64: bool
      Segments: ElfSegment list
      Entry: uint32
      /// 4 or 8: Linux writes the entry as a quad on x86-64.
      EntryDescSize: int
      Note: NotePlace }

/// An unrelated note first, so that the parser must walk past it, then Xen's PHYS32_ENTRY note.
let private notes (entry: uint32) (descSize: int) =
    let gnu = Array.zeroCreate (12 + 4 + 20)
    put gnu 0 4 4UL
    put gnu 4 4 20UL
    put gnu 8 4 3UL
    "GNU\000"B.CopyTo(gnu, 12)
    let xen = Array.zeroCreate (12 + 4 + 8)
    put xen 0 4 4UL
    put xen 4 4 (uint64 descSize)
    put xen 8 4 18UL
    "Xen\000"B.CopyTo(xen, 12)
    put xen 16 descSize (uint64 entry)
    Array.append gnu (Array.sub xen 0 (16 + (descSize + 3) / 4 * 4))

let elf (s: ElfSpec) =
    let ehSize, phSize, shSize = (if s.Is64 then 64, 56, 64 else 52, 32, 40)
    let noteBytes = if s.Note = Nowhere then [||] else notes s.Entry s.EntryDescSize
    let phCount = s.Segments.Length + (if s.Note = InProgramHeader then 1 else 0)
    let noteOffset = ehSize + phCount * phSize
    let segmentOffsets = s.Segments |> List.scan (fun at seg -> at + seg.FileSize) (noteOffset + noteBytes.Length)
    let shOffset = List.last segmentOffsets
    let shCount = if s.Note = InSection then 2 else 0
    let bytes = Array.zeroCreate (shOffset + shCount * shSize)
    "\127ELF"B.CopyTo(bytes, 0)
    bytes.[4] <- (if s.Is64 then 2uy else 1uy)
    bytes.[5] <- 1uy
    bytes.[6] <- 1uy
    put bytes 16 2 2UL
    put bytes 18 2 (if s.Is64 then 62UL else 3UL)
    let word = if s.Is64 then 8 else 4
    // e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum (gABI "ELF Header").
    let phOffField, shOffField, sizes = (if s.Is64 then 32, 40, 54 else 28, 32, 42)
    put bytes phOffField word (uint64 ehSize)
    put bytes shOffField word (if shCount > 0 then uint64 shOffset else 0UL)
    put bytes sizes 2 (uint64 phSize)
    put bytes (sizes + 2) 2 (uint64 phCount)
    put bytes (sizes + 4) 2 (uint64 shSize)
    put bytes (sizes + 6) 2 (uint64 shCount)
    let programHeader (index: int) (kind: uint64) (offset: int) (paddr: uint64) (filesz: int) (memsz: uint64) =
        let at = ehSize + index * phSize
        // p_offset, p_paddr, p_filesz, p_memsz, p_align (gABI "Program Header").
        let fields = if s.Is64 then [ 8; 24; 32; 40; 48 ] else [ 4; 12; 16; 20; 28 ]
        put bytes at 4 kind
        List.iter2 (fun field value -> put bytes (at + field) word value) fields [ uint64 offset; paddr; uint64 filesz; memsz; 4UL ]
    s.Segments |> List.iteri (fun i seg ->
        programHeader i 1UL segmentOffsets.[i] seg.PhysicalAddress seg.FileSize seg.MemorySize
        for k in 0 .. seg.FileSize - 1 do bytes.[segmentOffsets.[i] + k] <- byte (i + k))
    if s.Note = InProgramHeader then programHeader s.Segments.Length 4UL noteOffset 0UL noteBytes.Length (uint64 noteBytes.Length)
    noteBytes.CopyTo(bytes, noteOffset)
    if s.Note = InSection then
        let at = shOffset + shSize
        // sh_type, sh_offset, sh_size, sh_addralign (gABI "Section Header").
        let offsetField, sizeField, alignField = (if s.Is64 then 24, 32, 48 else 16, 20, 32)
        put bytes (at + 4) 4 7UL
        put bytes (at + offsetField) word (uint64 noteOffset)
        put bytes (at + sizeField) word (uint64 noteBytes.Length)
        put bytes (at + alignField) word 4UL
    bytes
