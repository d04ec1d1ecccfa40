module SsiHv.PropertyTests.Boot.BootProperties

open System
open System.Buffers.Binary
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Memory
open SsiHv.Core.Topology
open SsiHv.Core.Boot
open SsiHv.Core.Boot.BootPlan
open SsiHv.PropertyTests.Memory.LayoutProperties
open SsiHv.PropertyTests.Boot.KernelImages

let private config = { FsCheckConfig.defaultConfig with maxTest = 200 }

let private u32At (bytes: byte[]) (at: int) = BinaryPrimitives.ReadUInt32LittleEndian(ReadOnlySpan(bytes, at, 4))
let private u64At (bytes: byte[]) (at: int) = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(bytes, at, 8))

/// [a, b) is covered by RAM when walking range to range from a reaches b without a gap.
let private inRam (ranges: Layout.MemoryRange list) (a: uint64) (b: uint64) =
    let rec walk x =
        x >= b || (match ranges |> List.tryFind (Layout.MemoryRange.contains x) with
                   | Some r -> walk (Layout.MemoryRange.endExclusive r)
                   | None -> false)
    walk a

let private sound (ranges: Layout.MemoryRange list) (chunks: Chunk list) =
    let real = chunks |> List.filter (fun c -> c.Extent > 0UL)
    let disjoint =
        real |> List.forall (fun a -> real |> List.forall (fun b -> obj.ReferenceEquals(a, b) || Chunk.endExclusive a <= b.Address || Chunk.endExclusive b <= a.Address))
    let inside = real |> List.forall (fun c -> inRam ranges c.Address (Chunk.endExclusive c))
    let bytesFit = chunks |> List.forall (fun c -> uint64 c.Bytes.Length <= c.Extent)
    disjoint && inside && bytesFit

let private chunk (name: string) (plan: Plan) = plan.Chunks |> List.find (fun c -> c.Name = name)
let private tryChunk (name: string) (plan: Plan) = plan.Chunks |> List.tryFind (fun c -> c.Name = name)

/// One zeroed pool sliced for every generated initrd, so sizes of megabytes cost no allocation per case.
let private initrdPool: byte[] = Array.zeroCreate (16 * 1024 * 1024)
let private initrd = Gen.optionOf (Gen.choose (1, initrdPool.Length) |> Gen.map (fun n -> ReadOnlyMemory(initrdPool, 0, n)))
let private commandLineText =
    Gen.elements ([ 'a' .. 'z' ] @ [ ' '; '='; '.'; '0'; '9' ]) |> Gen.arrayOf |> Gen.map String

let private bzSpec = gen {
    let! initSize = Gen.choose (1, 48) |> Gen.map (fun m -> uint32 m * 0x100000u)
    let! pref = Gen.elements [ 0x100000UL; 0x200000UL; 0x1000000UL ]
    let! cmdlineSize = Gen.choose (16, 2047)
    let! initrdAddrMax = Gen.elements [ 0x7FFFFFFFu; 0x37FFFFFFu; 0xFFFFFFFFu ]
    let! payload = Gen.choose (1, 8192)
    return { validBz with InitSize = initSize; PrefAddress = pref; CmdlineSize = uint32 cmdlineSize; InitrdAddrMax = initrdAddrMax; PayloadLength = payload } }

let private elfSpec = gen {
    let! is64 = Gen.elements [ true; false ]
    let! count = Gen.choose (1, 4)
    let! start = Gen.choose (1, 32) |> Gen.map (fun m -> uint64 m * 0x100000UL)
    let! sizes = Gen.listOfLength count (Gen.map2 (fun f extra -> f, uint64 f + uint64 extra + 1UL) (Gen.choose (0, 8192)) (Gen.choose (0, 0x100000)))
    let segments =
        sizes
        |> List.fold (fun (at, acc) (f, m) -> alignUp pageSize (at + m), acc @ [ { PhysicalAddress = at; FileSize = f; MemorySize = m } ]) (start, [])
        |> snd
    let! entryOffset = Gen.choose (0, int segments.Head.MemorySize - 1)
    let! descSize = Gen.elements [ 4; 8 ]
    let! note = Gen.elements [ InProgramHeader; InSection ]
    return { Is64 = is64; Segments = segments; Entry = uint32 (start + uint64 entryOffset); EntryDescSize = descSize; Note = note } }

/// The memory map the zero page holds: count at 0x1E8, 20-byte entries at 0x2D0 (bootparam.h).
let private zeroPageMap (page: byte[]) =
    [ for i in 0 .. int page.[0x1E8] - 1 ->
        let at = 0x2D0 + 20 * i
        u64At page at, u64At page (at + 8), u32At page (at + 16) ]

let private expectedMap ranges = E820.ofRanges ranges |> List.map (fun e -> e.Base, e.Length, E820.E820Type.code e.Type)

/// hvm_start_info decoded straight from start_info.h's offsets, independently of Pvh.encodeStartInfo.
let private decodeStartInfo (b: byte[]) =
    u32At b 0, u32At b 4, ({ Pvh.Flags = u32At b 8; Pvh.NrModules = u32At b 12; Pvh.ModlistPaddr = u64At b 16; Pvh.CmdlinePaddr = u64At b 24
                             Pvh.RsdpPaddr = u64At b 32; Pvh.MemmapPaddr = u64At b 40; Pvh.MemmapEntries = u32At b 48 }), u32At b 52

let private decodeMemmap (b: byte[]) =
    [ for i in 0 .. b.Length / 24 - 1 -> u64At b (24 * i), u64At b (24 * i + 8), u32At b (24 * i + 16), u32At b (24 * i + 20) ]

let private neverThrows (parse: string -> byte[] -> Result<'a, 'e>) (text: 'e -> string) (bytes: byte[]) =
    try
        match parse "fuzzed.bin" bytes with
        | Ok _ -> true
        | Error e -> (text e).Length > 0
    with _ -> false

/// Valid images with a few bytes overwritten and maybe cut short: what a half-downloaded or corrupt file is.
let private mutated (valid: Gen<byte[]>) = gen {
    let! bytes = valid
    let! edits = Gen.listOf (Gen.map2 (fun (p: int) (v: byte) -> p, v) (Gen.choose (0, bytes.Length - 1)) (Gen.choose (0, 255) |> Gen.map byte))
    let! keep = Gen.frequency [ 3, Gen.constant bytes.Length; 1, Gen.choose (0, bytes.Length) ]
    let copy = Array.copy bytes
    edits |> List.iter (fun (p, v) -> copy.[p] <- v)
    return Array.sub copy 0 keep }

let private arbitraryBytes = Gen.choose (0, 3000) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (0, 255) |> Gen.map byte))

let tests =
    testList "boot" [
        testPropertyWithConfig config "e820 covers exactly the layout's RAM, sorted, disjoint, merged, plus the ACPI area" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let ranges = Layout.ranges t
                let map = E820.ofTopology t
                let usable = map |> List.filter (fun e -> e.Type = E820.Usable)
                let sorted = map |> List.pairwise |> List.forall (fun (a, b) -> E820.E820Entry.endExclusive a <= b.Base)
                let merged = usable |> List.pairwise |> List.forall (fun (a, b) -> E820.E820Entry.endExclusive a < b.Base)
                let covers = ranges |> List.forall (fun r -> usable |> List.exists (fun e -> e.Base <= r.Base && Layout.MemoryRange.endExclusive r <= E820.E820Entry.endExclusive e))
                let exact = (usable |> List.sumBy (fun e -> e.Length)) = Layout.usableBytes t
                let reserved = map |> List.filter (fun e -> e.Type = E820.Reserved)
                sorted && merged && covers && exact && reserved = [ { Base = 0xE0000UL; Length = 0x20000UL; Type = E820.Reserved } ])

        testProperty "the page tables identity-map every address below 4 GiB with 2 MiB pages" <|
            Prop.forAll (Arb.fromGen (Gen.choose (0, Int32.MaxValue) |> Gen.map (fun k -> uint64 k * 2UL))) (fun address ->
                let memory = pageTables |> List.map (fun c -> c.Address, c.Bytes.ToArray())
                let entryAt (tableAddress: uint64) (index: uint64) =
                    memory |> List.pick (fun (a, bytes) ->
                        let at = tableAddress + 8UL * index
                        if at >= a && at < a + uint64 bytes.Length then Some(u64At bytes (int (at - a))) else None)
                let frame (e: uint64) = e &&& 0x000FFFFFFFFFF000UL
                let pml4e = entryAt pml4Address ((address >>> 39) &&& 511UL)
                let pdpte = entryAt (frame pml4e) ((address >>> 30) &&& 511UL)
                let pde = entryAt (frame pdpte) ((address >>> 21) &&& 511UL)
                let present e = e &&& 1UL = 1UL
                present pml4e && present pdpte && present pde && pde &&& 0x80UL <> 0UL
                && (pde &&& 0x000FFFFFFFE00000UL) + (address &&& 0x1FFFFFUL) = address)

        testProperty "bzImage headers parse back to what was written" <|
            Prop.forAll (Arb.fromGen bzSpec) (fun s ->
                match BzImage.parse "gen.bz" (bzImage s) with
                | Ok k ->
                    k.Header.InitSize = s.InitSize && k.Header.PrefAddress = s.PrefAddress && k.Header.CmdlineSize = s.CmdlineSize
                    && k.Header.InitrdAddrMax = s.InitrdAddrMax && k.Header.SetupSectors = int s.SetupSects
                    && k.Header.Version = s.Version && k.Header.HeaderEnd = bzHeaderEnd
                    && (BzImage.protectedModeKernel k).Length = s.PayloadLength
                | Error _ -> false)

        testPropertyWithConfig config "bzImage plans lie in RAM, never overlap, and the zero page points at the planned chunks" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip validTopology bzSpec) (Gen.zip commandLineText initrd))) (fun ((t, s), (text, rd)) ->
                let k = match BzImage.parse "gen.bz" (bzImage s) with Ok k -> k | Error e -> failwithf "%A" e
                let ranges = Layout.ranges t
                let inputs = { Ranges = ranges; CommandLine = text; Initrd = rd; RsdpAddress = 0xE0000UL }
                match BzImage.plan k inputs with
                | Error(BzImage.CannotPlace(RamEndsBefore _ | NoRoomForInitrd _ | CommandLineTooLong _)) -> true
                | Error _ -> false
                | Ok plan ->
                    let page = (chunk "zero page" plan).Bytes.ToArray()
                    let kernel = chunk "kernel" plan
                    let cmdline = chunk "command line" plan
                    let initrdChunk = tryChunk "initrd" plan
                    let limit = min (uint64 s.InitrdAddrMax + 1UL) 0x100000000UL
                    sound ranges plan.Chunks
                    && kernel.Address = s.PrefAddress && kernel.Extent >= uint64 s.InitSize
                    && plan.Entry.Rip = kernel.Address + 0x200UL && plan.Entry.Rsi = zeroPageAddress
                    && cmdline.Bytes.ToArray() = Array.append (Text.Encoding.ASCII.GetBytes text) [| 0uy |]
                    && uint64 (u32At page 0x228) ||| (uint64 (u32At page 0xC8) <<< 32) = cmdline.Address
                    && page.[0x210] = 0xFFuy && u64At page 0x70 = 0xE0000UL
                    && zeroPageMap page = expectedMap ranges
                    // The header is copied; the loader only writes type_of_loader, ramdisk_* and cmd_line_ptr in it.
                    && Array.sub page 0x1F1 (0x210 - 0x1F1) = Array.sub k.Image 0x1F1 (0x210 - 0x1F1)
                    && Array.sub page 0x22C (bzHeaderEnd - 0x22C) = Array.sub k.Image 0x22C (bzHeaderEnd - 0x22C)
                    && (match initrdChunk, rd with
                        | Some c, Some bytes ->
                            c.Address % pageSize = 0UL && Chunk.endExclusive c <= limit && c.Extent = uint64 bytes.Length
                            && uint64 (u32At page 0x218) = c.Address && uint64 (u32At page 0x21C) = c.Extent
                        | None, None -> u32At page 0x218 = 0u && u32At page 0x21C = 0u
                        | _ -> false))

        testProperty "ELF images parse back to their segments and PVH entry" <|
            Prop.forAll (Arb.fromGen elfSpec) (fun s ->
                match Pvh.parse "gen.elf" (elf s) with
                | Ok k ->
                    k.Entry = s.Entry && k.Class = (if s.Is64 then Pvh.Elf64 else Pvh.Elf32)
                    && (k.Segments |> List.map (fun g -> g.PhysicalAddress, g.FileSize, g.MemorySize))
                       = (s.Segments |> List.map (fun g -> g.PhysicalAddress, uint64 g.FileSize, g.MemorySize))
                | Error _ -> false)

        testPropertyWithConfig config "PVH plans lie in RAM, never overlap, and hvm_start_info decodes to the planned chunks" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip validTopology elfSpec) (Gen.zip commandLineText initrd))) (fun ((t, s), (text, rd)) ->
                let k = match Pvh.parse "gen.elf" (elf s) with Ok k -> k | Error e -> failwithf "%A" e
                let ranges = Layout.ranges t
                let inputs = { Ranges = ranges; CommandLine = text; Initrd = rd; RsdpAddress = 0xE0000UL }
                match Pvh.plan k inputs with
                | Error(Pvh.CannotPlace(RamEndsBefore _ | NoRoomForInitrd _ | NotRam _)) -> true
                | Error _ -> false
                | Ok plan ->
                    let magic, version, info, reserved = decodeStartInfo ((chunk "hvm_start_info" plan).Bytes.ToArray())
                    let memmap = chunk "hvm_memmap" plan
                    let segmentsLoaded =
                        s.Segments |> List.mapi (fun i g ->
                            let c = chunk (sprintf "gen.elf segment %d" i) plan
                            c.Address = g.PhysicalAddress && c.Extent = g.MemorySize && c.Bytes.Length = g.FileSize)
                    sound ranges plan.Chunks && List.forall id segmentsLoaded
                    && magic = 0x336ec578u && version = 1u && reserved = 0u && info.Flags = 0u
                    && info.CmdlinePaddr = (chunk "command line" plan).Address && info.RsdpPaddr = 0xE0000UL
                    && info.MemmapPaddr = memmap.Address && int info.MemmapEntries = memmap.Bytes.Length / 24
                    && (decodeMemmap (memmap.Bytes.ToArray()) |> List.map (fun (a, l, ty, r) -> a, l, ty)) = expectedMap ranges
                    && plan.Entry.Rip = uint64 s.Entry && plan.Entry.Rbx = startInfoAddress
                    && plan.Entry.Cr0 = 1UL
                    && (match rd, tryChunk "initrd" plan with
                        | Some bytes, Some c ->
                            let m = (chunk "hvm_modlist" plan).Bytes.ToArray()
                            info.NrModules = 1u && info.ModlistPaddr = (chunk "hvm_modlist" plan).Address
                            && u64At m 0 = c.Address && u64At m 8 = uint64 bytes.Length && u64At m 16 = 0UL
                            && Chunk.endExclusive c <= 0x100000000UL
                        | None, None -> info.NrModules = 0u && info.ModlistPaddr = 0UL
                        | _ -> false))

        testProperty "hvm_start_info bytes decode back to the fields encoded" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.zip (Gen.choose (0, 7)) (Gen.elements [ 0UL; 0x6040UL; UInt64.MaxValue ])) (Gen.zip (Gen.choose (0, Int32.MaxValue)) (Gen.choose (0, 128))))) (fun ((modules, modlist), (address, entries)) ->
                let info =
                    { Pvh.Flags = 0u; Pvh.NrModules = uint32 modules; Pvh.ModlistPaddr = modlist; Pvh.CmdlinePaddr = uint64 address * 3UL
                      Pvh.RsdpPaddr = uint64 address <<< 20; Pvh.MemmapPaddr = uint64 address + 1UL; Pvh.MemmapEntries = uint32 entries }
                let bytes = Pvh.encodeStartInfo info
                bytes.Length = 56 && decodeStartInfo bytes = (0x336ec578u, 1u, info, 0u))

        testProperty "the ELF parser never throws on arbitrary bytes" <|
            Prop.forAll (Arb.fromGen arbitraryBytes) (neverThrows Pvh.parse Pvh.PvhError.text)
        testProperty "the ELF parser never throws on mutated ELF images" <|
            Prop.forAll (Arb.fromGen (mutated (elfSpec |> Gen.map elf))) (neverThrows Pvh.parse Pvh.PvhError.text)
        testProperty "the bzImage parser never throws on arbitrary bytes" <|
            Prop.forAll (Arb.fromGen arbitraryBytes) (neverThrows BzImage.parse BzImage.BzImageError.text)
        testProperty "the bzImage parser never throws on mutated bzImages" <|
            Prop.forAll (Arb.fromGen (mutated (bzSpec |> Gen.map (fun s -> bzImage { s with PayloadLength = 64 })))) (neverThrows BzImage.parse BzImage.BzImageError.text)

        testProperty "non-kernels are rejected with a message naming the file" <|
            Prop.forAll (Arb.fromGen arbitraryBytes) (fun bytes ->
                match BzImage.parse "random.bin" bytes, Pvh.parse "random.bin" bytes with
                | Error bz, Error pvh ->
                    (BzImage.BzImageError.text bz).StartsWith "random.bin is not a Linux bzImage: " && (Pvh.PvhError.text pvh).StartsWith "random.bin "
                | _ -> false)

        test "an ELF without the Xen note is not a PVH kernel" {
            let bytes = elf { Is64 = true; Segments = [ { PhysicalAddress = 0x100000UL; FileSize = 16; MemorySize = 16UL } ]; Entry = 0x100000u; EntryDescSize = 4; Note = Nowhere }
            Expect.equal (Pvh.parse "plain.elf" bytes |> Result.mapError Pvh.PvhError.text) (Error "plain.elf is an ELF without a XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel") "message"
        }

        test "a kernel bigger than node 0 names the range it needs and where RAM ends" {
            let k = match BzImage.parse "big.bz" (bzImage { validBz with PrefAddress = 0x100000UL; InitSize = 0x2900000u }) with Ok k -> k | Error e -> failwithf "%A" e
            let ranges = [ { Layout.Node = NodeId 0; Layout.Base = 0UL; Layout.Length = 0xA0000UL }; { Layout.Node = NodeId 0; Layout.Base = 0x100000UL; Layout.Length = 0x1F00000UL } ]
            let inputs = { Ranges = ranges; CommandLine = ""; Initrd = None; RsdpAddress = 0xE0000UL }
            Expect.equal (BzImage.plan k inputs |> Result.map ignore |> Result.mapError BzImage.BzImageError.text)
                (Error "memory too small for the image: kernel needs [0x100000, 0x2A00000) but RAM of node 0 ends at 0x1FFFFFF") "message"
        }
    ]
