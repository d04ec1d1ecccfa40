/// The PVH boot protocol (Xen's docs/misc/pvh.pandoc, which Linux, QEMU's -kernel and Cloud Hypervisor follow):
/// the loader copies an ELF's PT_LOAD segments to their physical addresses and enters the 32-bit entry point
/// named by the XEN_ELFNOTE_PHYS32_ENTRY note with EBX pointing at an `hvm_start_info`
/// (xen/include/public/arch-x86/hvm/start_info.h).
module SsiHv.Core.Boot.Pvh

open System
open System.Buffers.Binary
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Boot.BootPlan
open SsiHv.Core.Boot.ImageBytes

type ElfClass =
    | Elf32
    | Elf64

/// One PT_LOAD program header, already checked: [FileOffset, FileOffset + FileSize) lies in the file and
/// MemorySize ≥ FileSize.
type LoadSegment = { PhysicalAddress: uint64; FileOffset: uint64; FileSize: uint64; MemorySize: uint64 }

/// An ELF image that can be booted through PVH.
type Kernel =
    { File: string
      Image: byte[]
      Class: ElfClass
      Segments: LoadSegment list
      /// The guest-physical 32-bit entry from XEN_ELFNOTE_PHYS32_ENTRY.
      Entry: uint32 }

/// Field offsets that differ between ELF32 and ELF64 (System V gABI, "ELF Header", "Program Header",
/// "Section Header").
type private ElfFormat =
    { Class: ElfClass
      PhOff: uint64
      ShOff: uint64
      PhEntSize: uint64
      PhNum: uint64
      ShEntSize: uint64
      ShNum: uint64
      ProgramHeaderSize: uint64
      POffset: uint64
      PPaddr: uint64
      PFilesz: uint64
      PMemsz: uint64
      PAlign: uint64
      SectionHeaderSize: uint64
      ShOffset: uint64
      ShSize: uint64
      ShAddrAlign: uint64
      Word: int }

let private elf64 =
    { Class = Elf64; PhOff = 32UL; ShOff = 40UL; PhEntSize = 54UL; PhNum = 56UL; ShEntSize = 58UL; ShNum = 60UL
      ProgramHeaderSize = 56UL; POffset = 8UL; PPaddr = 24UL; PFilesz = 32UL; PMemsz = 40UL; PAlign = 48UL
      SectionHeaderSize = 64UL; ShOffset = 24UL; ShSize = 32UL; ShAddrAlign = 48UL; Word = 8 }

let private elf32 =
    { Class = Elf32; PhOff = 28UL; ShOff = 32UL; PhEntSize = 42UL; PhNum = 44UL; ShEntSize = 46UL; ShNum = 48UL
      ProgramHeaderSize = 32UL; POffset = 4UL; PPaddr = 12UL; PFilesz = 16UL; PMemsz = 20UL; PAlign = 28UL
      SectionHeaderSize = 40UL; ShOffset = 16UL; ShSize = 20UL; ShAddrAlign = 32UL; Word = 4 }

let private ptLoad = 1UL
let private ptNote = 4UL
let private shtNote = 7UL
let private emI386 = 3UL
let private emX86_64 = 62UL
/// XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h): the physical 32-bit entry point of a PVH kernel.
let phys32EntryNoteType = 18UL
let private xenNoteName = "Xen\000"B

/// Where notes may be found: a PT_NOTE segment or an SHT_NOTE section, as (description, offset, size, alignment).
type private NoteRegion = { Where: string; Offset: uint64; Size: uint64; Alignment: uint64 }

/// Why a file is not an ELF this loader boots through PVH, or cannot be planned.
type PvhError =
    | NotElf of file: string
    | ElfClassUnknown of file: string * elfClass: byte
    | NotLittleEndian of file: string * elfData: byte
    | MachineNotX86 of file: string * machine: uint64
    | EntriesTooSmall of file: string * table: string * entrySize: uint64 * minimumSize: uint64
    | TableOutsideFile of file: string * table: string * count: uint64 * entrySize: uint64 * offset: uint64 * fileLength: int
    | SegmentOutsideFile of file: string * index: int * fileOffset: uint64 * fileSize: uint64 * fileLength: int
    | MemorySizeBelowFileSize of file: string * index: int * memorySize: uint64 * fileSize: uint64
    | SegmentWraps of file: string * index: int * physicalAddress: uint64 * memorySize: uint64
    | NoteRegionOutsideFile of file: string * region: string * size: uint64 * fileLength: int
    | NoteOutsideRegion of file: string * offset: uint64 * region: string * nameSize: uint64 * descSize: uint64 * regionEnd: uint64
    | EntryBeyond32Bits of file: string * entry: uint64
    | EntryNoteSize of file: string * descSize: uint64
    | NoPvhNote of file: string
    | NoLoadSegment of file: string
    | EntryOutsideSegments of file: string * entry: uint32
    | MemoryMapTooLong of entries: int
    | FieldOutside of FieldOutsideFile
    | CannotPlace of PlanError

module PvhError =
    let text (error: PvhError) =
        let segment file index = String.Format("{0}: PT_LOAD segment {1}", file, index)
        match error with
        | NotElf file -> String.Format("{0} is not an ELF file (it does not start with 0x7F 'E' 'L' 'F')", file)
        | ElfClassUnknown(file, elfClass) -> String.Format("{0}: EI_CLASS is {1}; expected 1 (ELF32) or 2 (ELF64)", file, elfClass)
        | NotLittleEndian(file, elfData) -> String.Format("{0}: EI_DATA is {1}; x86 images are little-endian (1)", file, elfData)
        | MachineNotX86(file, machine) ->
            String.Format("{0}: e_machine is {1}; expected {2} (EM_386) or {3} (EM_X86_64)", file, machine, emI386, emX86_64)
        | EntriesTooSmall(file, table, entrySize, minimumSize) ->
            String.Format("{0}: {1} entries are {2} bytes, smaller than the {3} bytes of one entry", file, table, entrySize, minimumSize)
        | TableOutsideFile(file, table, count, entrySize, offset, fileLength) ->
            String.Format("{0}: the {1} table ({2} entries of {3} bytes at {4}) runs past the end of the {5}-byte file", file, table, count, entrySize, (hex offset), fileLength)
        | SegmentOutsideFile(file, index, fileOffset, fileSize, fileLength) ->
            String.Format("{0}: p_offset {1} + p_filesz {2} runs past the end of the {3}-byte file", (segment file index), (hex fileOffset), (hex fileSize), fileLength)
        | MemorySizeBelowFileSize(file, index, memorySize, fileSize) ->
            String.Format("{0}: p_memsz {1} is smaller than p_filesz {2}", (segment file index), (hex memorySize), (hex fileSize))
        | SegmentWraps(file, index, physicalAddress, memorySize) ->
            String.Format("{0}: p_paddr {1} + p_memsz {2} wraps around the address space", (segment file index), (hex physicalAddress), (hex memorySize))
        | NoteRegionOutsideFile(file, region, size, fileLength) ->
            String.Format("{0}: {1} ({2} bytes) runs past the end of the {3}-byte file", file, region, (hex size), fileLength)
        | NoteOutsideRegion(file, offset, region, nameSize, descSize, regionEnd) ->
            String.Format("{0}: the note at {1} in {2} (namesz {3}, descsz {4}) runs past the region's end at {5}", file, (hex offset), region, nameSize, descSize, (hex regionEnd))
        | EntryBeyond32Bits(file, entry) -> String.Format("{0}: XEN_ELFNOTE_PHYS32_ENTRY is {1}, beyond the 32-bit entry's reach", file, (hex entry))
        | EntryNoteSize(file, descSize) -> String.Format("{0}: XEN_ELFNOTE_PHYS32_ENTRY has a {1}-byte value; expected 4 or 8", file, descSize)
        | NoPvhNote file -> String.Format("{0} is an ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel", file)
        | NoLoadSegment file -> String.Format("{0} has no PT_LOAD segment to load", file)
        | EntryOutsideSegments(file, entry) -> String.Format("{0}: the PVH entry {1} lies outside every PT_LOAD segment", file, (hex (uint64 entry)))
        | MemoryMapTooLong entries -> String.Format("the memory map has {0} entries; at most {1} fit", entries, maxMemoryMapEntries)
        | FieldOutside e -> FieldOutsideFile.text e
        | CannotPlace e -> PlanError.text e

// The image's fields, with a field outside the file as a PvhError.
let private u16 file bytes field offset = ImageBytes.u16 file bytes field offset |> Result.mapError FieldOutside
let private u32 file bytes field offset = ImageBytes.u32 file bytes field offset |> Result.mapError FieldOutside
let private u64 file bytes field offset = ImageBytes.u64 file bytes field offset |> Result.mapError FieldOutside

let private word file bytes (format: ElfFormat) field offset =
    if format.Word = 8 then u64 file bytes field offset else u32 file bytes field offset

/// Reads `count` fixed-size headers at `offset` after checking that the whole table lies in the file, so no
/// offset computed inside it can wrap.
let private headerTable file (bytes: byte[]) (what: string) (offset: uint64) (entrySize: uint64) (minimumSize: uint64) (count: uint64) =
    if count = 0UL then Ok []
    elif entrySize < minimumSize then
        Error(EntriesTooSmall(file, what, entrySize, minimumSize))
    elif not (within bytes.Length offset (entrySize * count)) then
        Error(TableOutsideFile(file, what, count, entrySize, offset, bytes.Length))
    else Ok [ for i in 0UL .. count - 1UL -> offset + i * entrySize ]

let private checkedSegment file (bytes: byte[]) (index: int) (s: LoadSegment) =
    if not (within bytes.Length s.FileOffset s.FileSize) then Error(SegmentOutsideFile(file, index, s.FileOffset, s.FileSize, bytes.Length))
    elif s.MemorySize < s.FileSize then Error(MemorySizeBelowFileSize(file, index, s.MemorySize, s.FileSize))
    elif s.PhysicalAddress + s.MemorySize < s.PhysicalAddress then Error(SegmentWraps(file, index, s.PhysicalAddress, s.MemorySize))
    else Ok s

/// Walks the notes of one region (gABI "Note Section": namesz, descsz, type, then name and desc, each starting
/// at an offset aligned to the region's alignment) and returns the PHYS32_ENTRY value if the region holds one.
let private phys32EntryIn file (bytes: byte[]) (region: NoteRegion) : Result<uint32 option, PvhError> =
    let finish = region.Offset + region.Size
    let rec walk (offset: uint64) =
        if finish - offset < 12UL then Ok None
        else
            result {
                let! nameSize = u32 file bytes "note namesz" offset
                let! descSize = u32 file bytes "note descsz" (offset + 4UL)
                let! noteType = u32 file bytes "note type" (offset + 8UL)
                let nameStart = offset + 12UL
                // In 8-byte aligned notes the 12-byte header plus a 4-byte name already ends aligned: the padding
                // belongs to positions, not to sizes.
                let descStart = alignUp region.Alignment (nameStart + nameSize)
                let next = alignUp region.Alignment (descStart + descSize)
                if descStart + descSize > finish then
                    return! Error(NoteOutsideRegion(file, offset, region.Where, nameSize, descSize, finish))
                elif noteType = phys32EntryNoteType && nameSize = 4UL && bytes.AsSpan(int nameStart, 4).SequenceEqual(ReadOnlySpan xenNoteName) then
                    match descSize with
                    | 4UL -> return! u32 file bytes "XEN_ELFNOTE_PHYS32_ENTRY" descStart |> Result.map (uint32 >> Some)
                    | 8UL ->
                        // Linux emits the entry with _ASM_PTR, a quad on x86-64; the value itself is 32-bit.
                        let! value = u64 file bytes "XEN_ELFNOTE_PHYS32_ENTRY" descStart
                        if value > uint64 UInt32.MaxValue then
                            return! Error(EntryBeyond32Bits(file, value))
                        else return Some(uint32 value)
                    | other -> return! Error(EntryNoteSize(file, other))
                else return! walk (min next finish)
            }
    walk region.Offset

let private firstEntry file bytes (regions: NoteRegion list) =
    let rec go regions =
        match regions with
        | [] -> Ok None
        | r :: rest ->
            match phys32EntryIn file bytes r with
            | Ok None -> go rest
            | found -> found
    go regions

/// gABI: note entries are 4-byte aligned, except in ELF64 regions that declare 8-byte alignment.
let private noteAlignment (declared: uint64) = if declared = 8UL then 8UL else 4UL

/// Parses an ELF32/ELF64 little-endian x86 image: its PT_LOAD segments and its PVH entry, taken from the
/// XEN_ELFNOTE_PHYS32_ENTRY note in a PT_NOTE segment or an SHT_NOTE section. Never throws; every bound is checked.
let parse (file: string) (bytes: byte[]) : Result<Kernel, PvhError> =
    let isElf = bytes.Length >= 16 && bytes.[0] = 0x7Fuy && bytes.[1] = byte 'E' && bytes.[2] = byte 'L' && bytes.[3] = byte 'F'
    if not isElf then Error(NotElf file)
    else
        result {
            let! format =
                match bytes.[4] with
                | 1uy -> Ok elf32
                | 2uy -> Ok elf64
                | other -> Error(ElfClassUnknown(file, other))
            if bytes.[5] <> 1uy then return! Error(NotLittleEndian(file, bytes.[5]))
            else
                let! machine = u16 file bytes "e_machine" 18UL
                if machine <> emI386 && machine <> emX86_64 then return! Error(MachineNotX86(file, machine))
                else
                    let! phOff = word file bytes format "e_phoff" format.PhOff
                    let! shOff = word file bytes format "e_shoff" format.ShOff
                    let! phEntSize = u16 file bytes "e_phentsize" format.PhEntSize
                    let! phNum = u16 file bytes "e_phnum" format.PhNum
                    let! shEntSize = u16 file bytes "e_shentsize" format.ShEntSize
                    let! shNum = u16 file bytes "e_shnum" format.ShNum
                    let! programHeaders = headerTable file bytes "program header" phOff phEntSize format.ProgramHeaderSize phNum
                    let! sectionHeaders = headerTable file bytes "section header" shOff shEntSize format.SectionHeaderSize shNum
                    let readProgramHeader (at: uint64) =
                        result {
                            let! kind = u32 file bytes "p_type" at
                            let! offset = word file bytes format "p_offset" (at + format.POffset)
                            let! paddr = word file bytes format "p_paddr" (at + format.PPaddr)
                            let! filesz = word file bytes format "p_filesz" (at + format.PFilesz)
                            let! memsz = word file bytes format "p_memsz" (at + format.PMemsz)
                            let! align = word file bytes format "p_align" (at + format.PAlign)
                            return kind, { PhysicalAddress = paddr; FileOffset = offset; FileSize = filesz; MemorySize = memsz }, align
                        }
                    let! headers = traverse readProgramHeader programHeaders
                    let! segments =
                        headers
                        |> List.filter (fun (kind, s, _) -> kind = ptLoad && s.MemorySize > 0UL)
                        |> List.mapi (fun i (_, s, _) -> checkedSegment file bytes i s)
                        |> traverse id
                    let segmentNotes =
                        headers
                        |> List.filter (fun (kind, _, _) -> kind = ptNote)
                        |> List.map (fun (_, s, align) ->
                            { Where = String.Format("the PT_NOTE segment at {0}", (hex s.FileOffset)); Offset = s.FileOffset; Size = s.FileSize; Alignment = noteAlignment align })
                    let readSection (at: uint64) =
                        result {
                            let! kind = u32 file bytes "sh_type" (at + 4UL)
                            let! offset = word file bytes format "sh_offset" (at + format.ShOffset)
                            let! size = word file bytes format "sh_size" (at + format.ShSize)
                            let! align = word file bytes format "sh_addralign" (at + format.ShAddrAlign)
                            return kind, { Where = String.Format("the SHT_NOTE section at {0}", (hex offset)); Offset = offset; Size = size; Alignment = noteAlignment align }
                        }
                    let! sections = traverse readSection sectionHeaders
                    let sectionNotes = sections |> List.filter (fun (kind, _) -> kind = shtNote) |> List.map snd
                    let regions = segmentNotes @ sectionNotes
                    match regions |> List.tryFind (fun r -> not (within bytes.Length r.Offset r.Size)) with
                    | Some r -> return! Error(NoteRegionOutsideFile(file, r.Where, r.Size, bytes.Length))
                    | None ->
                        let! entry = firstEntry file bytes regions
                        match entry with
                        | None -> return! Error(NoPvhNote file)
                        | Some _ when segments.IsEmpty -> return! Error(NoLoadSegment file)
                        | Some e when not (segments |> List.exists (fun s -> uint64 e >= s.PhysicalAddress && uint64 e < s.PhysicalAddress + s.MemorySize)) ->
                            return! Error(EntryOutsideSegments(file, e))
                        | Some e -> return { File = file; Image = bytes; Class = format.Class; Segments = segments; Entry = e }
        }

/// XEN_HVM_START_MAGIC_VALUE: "xEn3" with the 0x80 bit of the "E" set.
let startInfoMagic = 0x336ec578u
let startInfoVersion = 1u
let startInfoSize = 56
let moduleEntrySize = 32
let memmapEntrySize = 24

/// struct hvm_start_info, version 1.
type StartInfo =
    { Flags: uint32
      NrModules: uint32
      ModlistPaddr: uint64
      CmdlinePaddr: uint64
      RsdpPaddr: uint64
      MemmapPaddr: uint64
      MemmapEntries: uint32 }

/// struct hvm_modlist_entry.
type ModuleEntry = { Paddr: uint64; Size: uint64; CmdlinePaddr: uint64 }

let private write (bytes: byte[]) (offset: int) (value: uint64) (size: int) =
    let span = bytes.AsSpan(offset, size)
    match size with
    | 4 -> BinaryPrimitives.WriteUInt32LittleEndian(span, uint32 value)
    | _ -> BinaryPrimitives.WriteUInt64LittleEndian(span, value)

/// The 56 bytes of hvm_start_info: magic@0 version@4 flags@8 nr_modules@12 modlist_paddr@16 cmdline_paddr@24
/// rsdp_paddr@32 memmap_paddr@40 memmap_entries@48 reserved@52.
let encodeStartInfo (s: StartInfo) =
    let b = Array.zeroCreate startInfoSize
    write b 0 (uint64 startInfoMagic) 4
    write b 4 (uint64 startInfoVersion) 4
    write b 8 (uint64 s.Flags) 4
    write b 12 (uint64 s.NrModules) 4
    write b 16 s.ModlistPaddr 8
    write b 24 s.CmdlinePaddr 8
    write b 32 s.RsdpPaddr 8
    write b 40 s.MemmapPaddr 8
    write b 48 (uint64 s.MemmapEntries) 4
    b

/// hvm_modlist_entry: paddr@0 size@8 cmdline_paddr@16 reserved@24.
let encodeModule (m: ModuleEntry) =
    let b = Array.zeroCreate moduleEntrySize
    write b 0 m.Paddr 8
    write b 8 m.Size 8
    write b 16 m.CmdlinePaddr 8
    b

/// hvm_memmap_table_entry: addr@0 size@8 type@16 reserved@20 per entry.
let encodeMemmap (entries: E820.E820Entry list) =
    entries
    |> List.map (fun e ->
        let b = Array.zeroCreate memmapEntrySize
        write b 0 e.Base 8
        write b 8 e.Length 8
        write b 16 (uint64 (E820.E820Type.code e.Type)) 4
        b)
    |> Array.concat

/// hvm_start_info at 0x6000, its one module entry at 0x6040, the memory map from 0x6080 (128 entries end at
/// 0x6C80): one page, like Firecracker's PVH layout.
let modlistAddress = startInfoAddress + 0x40UL
let memmapAddress = startInfoAddress + 0x80UL

/// Linux's x86 COMMAND_LINE_SIZE is 2048 bytes including the NUL; PVH has no header to state it.
let maxCommandLineLength = 2047UL

/// The whole PVH boot: segments at their physical addresses, command line, initrd as module 0 as high as
/// possible below 4 GiB (where a 32-bit entry without paging can reach it), memory map and hvm_start_info.
let plan (kernel: Kernel) (inputs: BootInputs) : Result<Plan, PvhError> =
    let segments =
        kernel.Segments
        |> List.mapi (fun i s ->
            { Name = String.Format("{0} segment {1}", kernel.File, i); Address = s.PhysicalAddress
              Bytes = ReadOnlyMemory(kernel.Image, int s.FileOffset, int s.FileSize); Extent = s.MemorySize })
    let memmap = E820.ofRanges inputs.Ranges
    result {
        do! validate inputs.Ranges segments |> Result.map ignore |> Result.mapError CannotPlace
        if memmap.Length > maxMemoryMapEntries then return! Error(MemoryMapTooLong memmap.Length)
        else
            let! commandLine = commandLine "Linux's COMMAND_LINE_SIZE" maxCommandLineLength inputs.CommandLine |> Result.mapError CannotPlace
            let startInfoPage = reservation "hvm_start_info page" startInfoAddress pageSize
            let fixedChunks = protectedModeSupport @ [ commandLine ] @ segments
            let! initrd =
                match inputs.Initrd with
                | None -> Ok None
                | Some bytes -> placeInitrd inputs.Ranges (startInfoPage :: fixedChunks) identityMapEnd bytes |> Result.map Some |> Result.mapError CannotPlace
            let modules = initrd |> Option.map (fun c -> { Paddr = c.Address; Size = c.Extent; CmdlinePaddr = 0UL }) |> Option.toList
            let startInfo =
                { Flags = 0u
                  NrModules = uint32 modules.Length
                  ModlistPaddr = (if modules.IsEmpty then 0UL else modlistAddress)
                  CmdlinePaddr = commandLine.Address
                  RsdpPaddr = inputs.RsdpAddress
                  MemmapPaddr = memmapAddress
                  MemmapEntries = uint32 memmap.Length }
            let bootInfo =
                [ Chunk.ofBytes "hvm_start_info" startInfoAddress (encodeStartInfo startInfo)
                  Chunk.ofBytes "hvm_memmap" memmapAddress (encodeMemmap memmap) ]
                @ (modules |> List.map (encodeModule >> Chunk.ofBytes "hvm_modlist" modlistAddress))
            let! chunks = validate inputs.Ranges (bootInfo @ fixedChunks @ Option.toList initrd) |> Result.mapError CannotPlace
            return { Chunks = chunks; Entry = protectedModeEntry kernel.Entry startInfoAddress }
    }
