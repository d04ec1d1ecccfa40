/// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) through its 64-bit entry: parse the bzImage's
/// setup header, load the protected-mode kernel at its preferred address, build the zero page
/// (struct boot_params, arch/x86/include/uapi/asm/bootparam.h) and enter at load address + 0x200 in long mode.
module SsiHv.Core.Boot.BzImage

open System
open System.Buffers.Binary
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Boot.BootPlan
open SsiHv.Core.Boot.ImageBytes

/// The setup-header fields a 64-bit loader needs (boot.rst, "The Real-Mode Kernel Header"; offsets in the file
/// and in the zero page are the same).
type SetupHeader =
    { /// setup_sects (0x1F1), with boot.rst's rule applied: 0 means 4.
      SetupSectors: int
      /// version (0x206): major in the high byte.
      Version: uint16
      /// loadflags (0x211).
      LoadFlags: byte
      /// initrd_addr_max (0x22C): the highest address the initrd may occupy.
      InitrdAddrMax: uint32
      /// kernel_alignment (0x230).
      KernelAlignment: uint32
      /// relocatable_kernel (0x234).
      Relocatable: bool
      /// xloadflags (0x236).
      XLoadFlags: uint16
      /// cmdline_size (0x238): the longest command line, without its NUL.
      CmdlineSize: uint32
      /// pref_address (0x258).
      PrefAddress: uint64
      /// init_size (0x260): memory the kernel needs from its runtime start before it reads the memory map.
      InitSize: uint32
      /// 0x202 + the byte at 0x201: where the setup header ends.
      HeaderEnd: int }

type Kernel = { File: string; Image: byte[]; Header: SetupHeader }

let bootFlagOffset = 0x1FEUL
let bootFlag = 0xAA55UL
let headerMagicOffset = 0x202UL
/// "HdrS" read as a little-endian u32.
let headerMagic = 0x53726448UL
let setupHeaderStart = 0x1F1
/// The zero page's hdr field ends where edd_mbr_sig_buffer starts (bootparam.h).
let setupHeaderLimit = 0x290
/// 2.12 added xloadflags, which says whether the 64-bit entry exists.
let minimumVersion = 0x020Cus
let loadedHigh = 0x01uy
let xlfKernel64 = 0x0001us
/// boot.rst: the 64-bit entry point is 0x200 past the start of the protected-mode kernel.
let entryOffset64 = 0x200UL
/// boot.rst: type_of_loader 0xFF means "undefined", for loaders without an assigned id.
let undefinedLoader = 0xFFuy
let zeroPageSize = 4096

/// Why a file is not a bzImage this loader boots, or cannot be planned.
type BzImageError =
    | ShorterThanSetupHeader of file: string * length: int
    | WrongBootFlag of file: string * found: uint64
    | NoHeaderMagic of file: string * found: uint64
    | ProtocolTooOld of file: string * version: uint64
    | SetupHeaderEnd of file: string * headerEnd: int
    | NotLoadedHigh of file: string * loadFlags: uint64
    | No64BitEntry of file: string * xloadflags: uint64
    | AlignmentNotPowerOfTwo of file: string * kernelAlignment: uint64
    | EndsBeforeKernel of file: string * length: int * kernelStart: int * setupSects: uint64
    | FieldOutside of FieldOutsideFile
    | AboveIdentityMap of file: string * address: uint64
    | MemoryMapTooLong of entries: int
    | PayloadOutsideFile of file: string * offset: uint64 * length: uint64 * fileLength: int
    | CannotPlace of PlanError

module BzImageError =
    let text (error: BzImageError) =
        let notBzImage file (why: string) = String.Format("{0} is not a Linux bzImage: {1}", file, why)
        match error with
        | ShorterThanSetupHeader(file, length) ->
            notBzImage file (String.Format("{0} bytes is shorter than the setup header (which reaches 0x{1:X})", length, (headerMagicOffset + 4UL)))
        | WrongBootFlag(file, found) -> notBzImage file (String.Format("boot_flag at 0x1FE is {0}, expected 0xAA55", (hex found)))
        | NoHeaderMagic(file, found) -> notBzImage file (String.Format("no \"HdrS\" at 0x202 (found {0})", (hex found)))
        | ProtocolTooOld(file, version) ->
            String.Format("{0} uses boot protocol {1}.{2:D2}; 2.12 or newer is needed for the 64-bit entry", file, (version >>> 8), (version &&& 0xFFUL))
        | SetupHeaderEnd(file, headerEnd) ->
            String.Format("{0}: the setup header ends at 0x{1:X} (0x202 + the byte at 0x201); a 2.12+ header ends between 0x264 and 0x{2:X}", file, headerEnd, setupHeaderLimit)
        | NotLoadedHigh(file, loadFlags) ->
            String.Format("{0}: loadflags {1} lacks LOADED_HIGH: a zImage, which loads below 1 MiB; only bzImage is supported", file, (hex loadFlags))
        | No64BitEntry(file, xloadflags) ->
            String.Format("{0}: xloadflags {1} lacks XLF_KERNEL_64: the kernel has no 64-bit entry point", file, (hex xloadflags))
        | AlignmentNotPowerOfTwo(file, alignment) -> String.Format("{0}: kernel_alignment {1} is not a power of two", file, (hex alignment))
        | EndsBeforeKernel(file, length, kernelStart, setupSects) ->
            String.Format("{0}: the file ends at 0x{1:X}, before the protected-mode kernel at 0x{2:X} (setup_sects {3})", file, length, kernelStart, setupSects)
        | FieldOutside e -> FieldOutsideFile.text e
        | AboveIdentityMap(file, address) ->
            String.Format("{0}: the kernel at pref_address {1} ends above 4 GiB, outside the boot page tables' identity map", file, (hex address))
        | MemoryMapTooLong entries -> String.Format("the memory map has {0} entries; the zero page holds at most {1}", entries, maxMemoryMapEntries)
        | PayloadOutsideFile(file, offset, length, fileLength) ->
            String.Format("{0}: payload_offset {1} + payload_length {2} reach past the file's {3} bytes", file, (hex offset), (hex length), fileLength)
        | CannotPlace e -> PlanError.text e

/// Parses and checks the setup header. Never throws; a non-kernel gets an error saying which check failed.
let parse (file: string) (bytes: byte[]) : Result<Kernel, BzImageError> =
    let field name offset size =
        match size with
        | 1 -> u8 file bytes name offset
        | 2 -> u16 file bytes name offset
        | 4 -> u32 file bytes name offset
        | _ -> u64 file bytes name offset
        |> Result.mapError FieldOutside
    if bytes.Length < int headerMagicOffset + 4 then Error(ShorterThanSetupHeader(file, bytes.Length))
    else
        result {
            let! flag = field "boot_flag" bootFlagOffset 2
            let! magic = field "header" headerMagicOffset 4
            if flag <> bootFlag then return! Error(WrongBootFlag(file, flag))
            elif magic <> headerMagic then return! Error(NoHeaderMagic(file, magic))
            else
                let! version = field "version" 0x206UL 2
                if version < uint64 minimumVersion then return! Error(ProtocolTooOld(file, version))
                else
                    let! jumpOffset = field "jump" 0x201UL 1
                    let headerEnd = int headerMagicOffset + int jumpOffset
                    let! setupSects = field "setup_sects" 0x1F1UL 1
                    let! loadFlags = field "loadflags" 0x211UL 1
                    let! initrdAddrMax = field "initrd_addr_max" 0x22CUL 4
                    let! kernelAlignment = field "kernel_alignment" 0x230UL 4
                    let! relocatable = field "relocatable_kernel" 0x234UL 1
                    let! xloadflags = field "xloadflags" 0x236UL 2
                    let! cmdlineSize = field "cmdline_size" 0x238UL 4
                    let! prefAddress = field "pref_address" 0x258UL 8
                    let! initSize = field "init_size" 0x260UL 4
                    let setupSectors = if setupSects = 0UL then 4 else int setupSects
                    let kernelStart = (setupSectors + 1) * 512
                    if headerEnd > setupHeaderLimit || headerEnd < 0x264 then return! Error(SetupHeaderEnd(file, headerEnd))
                    elif byte loadFlags &&& loadedHigh = 0uy then return! Error(NotLoadedHigh(file, loadFlags))
                    elif uint16 xloadflags &&& xlfKernel64 = 0us then return! Error(No64BitEntry(file, xloadflags))
                    elif relocatable <> 0UL && (kernelAlignment = 0UL || kernelAlignment &&& (kernelAlignment - 1UL) <> 0UL) then
                        return! Error(AlignmentNotPowerOfTwo(file, kernelAlignment))
                    elif kernelStart >= bytes.Length then return! Error(EndsBeforeKernel(file, bytes.Length, kernelStart, setupSects))
                    else
                        return
                            { File = file
                              Image = bytes
                              Header =
                                { SetupSectors = setupSectors; Version = uint16 version; LoadFlags = byte loadFlags
                                  InitrdAddrMax = uint32 initrdAddrMax; KernelAlignment = uint32 kernelAlignment
                                  Relocatable = relocatable <> 0UL; XLoadFlags = uint16 xloadflags; CmdlineSize = uint32 cmdlineSize
                                  PrefAddress = prefAddress; InitSize = uint32 initSize; HeaderEnd = headerEnd } }
        }

/// The protected-mode kernel: everything after the (setup_sects + 1) * 512 bytes of real-mode setup.
let protectedModeKernel (k: Kernel) =
    let start = (k.Header.SetupSectors + 1) * 512
    ReadOnlyMemory(k.Image, start, k.Image.Length - start)

/// The load address is pref_address (boot.rst: "a relocating bootloader should attempt to load at this
/// address"). Loading lower gains nothing: a relocatable kernel's decompressor never runs below
/// LOAD_PHYSICAL_ADDR (= pref_address; arch/x86/boot/compressed/head_64.S), so it would still need
/// [pref_address, pref_address + init_size). Only a header without pref_address falls back to 1 MiB.
let loadAddress (h: SetupHeader) = if h.PrefAddress = 0UL then 0x100000UL else h.PrefAddress

let private putU8 (page: byte[]) (offset: int) (v: byte) = page.[offset] <- v
let private putU32 (page: byte[]) (offset: int) (v: uint32) = BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(offset), v)
let private putU64 (page: byte[]) (offset: int) (v: uint64) = BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(offset), v)

/// Zero-page offsets (bootparam.h, struct boot_params).
let acpiRsdpAddrOffset = 0x070
let extRamdiskImageOffset = 0x0C0
let extRamdiskSizeOffset = 0x0C4
let extCmdLinePtrOffset = 0x0C8
let e820EntriesOffset = 0x1E8
let typeOfLoaderOffset = 0x210
let ramdiskImageOffset = 0x218
let ramdiskSizeOffset = 0x21C
let cmdLinePtrOffset = 0x228
let e820TableOffset = 0x2D0
let e820EntrySize = 20

/// struct boot_params for the 64-bit entry. Only the fields a 64-bit loader owns are written; CAN_USE_HEAP and
/// heap_end_ptr stay clear because the heap belongs to the real-mode setup code, which the 64-bit entry skips.
/// 64-bit addresses are split into the field and its ext_ high half (boot.rst, "ext_cmd_line_ptr" etc.).
let zeroPage (k: Kernel) (commandLine: uint64) (initrd: Chunk option) (memoryMap: E820.E820Entry list) (rsdp: uint64) : byte[] =
    let page = Array.zeroCreate zeroPageSize
    Array.blit k.Image setupHeaderStart page setupHeaderStart (k.Header.HeaderEnd - setupHeaderStart)
    putU8 page typeOfLoaderOffset undefinedLoader
    putU32 page cmdLinePtrOffset (uint32 commandLine)
    putU32 page extCmdLinePtrOffset (uint32 (commandLine >>> 32))
    initrd
    |> Option.iter (fun c ->
        putU32 page ramdiskImageOffset (uint32 c.Address)
        putU32 page extRamdiskImageOffset (uint32 (c.Address >>> 32))
        putU32 page ramdiskSizeOffset (uint32 c.Extent)
        putU32 page extRamdiskSizeOffset (uint32 (c.Extent >>> 32)))
    putU8 page e820EntriesOffset (byte memoryMap.Length)
    memoryMap
    |> List.iteri (fun i e ->
        let at = e820TableOffset + i * e820EntrySize
        putU64 page at e.Base
        putU64 page (at + 8) e.Length
        putU32 page (at + 16) (E820.E820Type.code e.Type))
    // acpi_rsdp_addr is read from protocol 2.14; older kernels find the RSDP by scanning 0xE0000 instead.
    putU64 page acpiRsdpAddrOffset rsdp
    page

/// The whole 64-bit boot: kernel at its load address with init_size reserved, command line within cmdline_size,
/// initrd as high as possible below min(initrd_addr_max + 1, 4 GiB), zero page, identity-mapped page tables.
let plan (k: Kernel) (inputs: BootInputs) : Result<Plan, BzImageError> =
    let payload = protectedModeKernel k
    let address = loadAddress k.Header
    let kernel = { Name = "kernel"; Address = address; Bytes = payload; Extent = max (uint64 k.Header.InitSize) (uint64 payload.Length) }
    let memoryMap = E820.ofRanges inputs.Ranges
    result {
        do! requireRam inputs.Ranges kernel |> Result.mapError CannotPlace
        if Chunk.endExclusive kernel > identityMapEnd then return! Error(AboveIdentityMap(k.File, address))
        elif memoryMap.Length > maxMemoryMapEntries then return! Error(MemoryMapTooLong memoryMap.Length)
        else
            let! commandLine =
                commandLine (String.Format("{0}'s cmdline_size", k.File)) (uint64 k.Header.CmdlineSize) inputs.CommandLine |> Result.mapError CannotPlace
            let fixedChunks = longModeSupport @ [ commandLine; kernel ]
            let zeroPageSpace = reservation "zero page" zeroPageAddress (uint64 zeroPageSize)
            let initrdLimit = min (uint64 k.Header.InitrdAddrMax + 1UL) identityMapEnd
            let! initrd =
                match inputs.Initrd with
                | None -> Ok None
                | Some bytes -> placeInitrd inputs.Ranges (zeroPageSpace :: fixedChunks) initrdLimit bytes |> Result.map Some |> Result.mapError CannotPlace
            let bootParams = Chunk.ofBytes "zero page" zeroPageAddress (zeroPage k commandLine.Address initrd memoryMap inputs.RsdpAddress)
            let! chunks = validate inputs.Ranges (bootParams :: fixedChunks @ Option.toList initrd) |> Result.mapError CannotPlace
            return { Chunks = chunks; Entry = longModeEntry (address + entryOffset64) zeroPageAddress }
    }

/// The compressed kernel inside the protected-mode part: payload_offset (0x248) bytes into it, payload_length
/// (0x24C) long. Returns its offset in the file and its length, checked against the file's size.
let compressedPayload (k: Kernel) : Result<int * int, BzImageError> =
    let kernelStart = (k.Header.SetupSectors + 1) * 512
    result {
        let! offset = u32 k.File k.Image "payload_offset" 0x248UL |> Result.mapError FieldOutside
        let! length = u32 k.File k.Image "payload_length" 0x24CUL |> Result.mapError FieldOutside
        let start = uint64 kernelStart + offset
        if length = 0UL || start + length > uint64 k.Image.Length then
            return! Error(PayloadOutsideFile(k.File, offset, length, k.Image.Length))
        else
            return int start, int length
    }
