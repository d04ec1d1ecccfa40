using SsiHv.Tests.Support;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using SsiHv.Core.Boot;
using SsiHv.Core.Memory;
using SsiHv.Core.Topology;
using SsiHv.Shell.Topology;
using SsiHv.Tests.LinuxGuest;
using Xunit;

namespace SsiHv.Tests.Boot;

/// <summary>
/// The pure boot planners (core/Boot) against Debian's real kernel: every field is checked against the file's
/// bytes read here with BinaryPrimitives or against readelf, never through the parser under test.
/// </summary>
public sealed class KernelBootTests
{
    const string CommandLine = "console=ttyS0 earlyprintk=serial panic=-1";
    const ulong Rsdp = 0xE0000;

    /// docs/design.md §4.3: a 2 × 1 GiB topology is RAM [0, 0x9FFFF] + [0x100000, 0x7FFFFFFF] (merged across the
    /// node boundary), with the ACPI BIOS area reserved.
    static readonly (ulong Base, ulong Length, uint Type)[] TwoNodeMap =
    [
        (0x0, 0xA0000, 1),
        (0xE0000, 0x20000, 2),
        (0x100000, 0x7FF00000, 1),
    ];

    static readonly GuestImages Guest = GuestImages.Get();
    static readonly byte[] Vmlinuz = File.ReadAllBytes(Guest.CompressedKernelPath);
    static readonly byte[] Vmlinux = File.ReadAllBytes(Guest.KernelPath);
    static readonly byte[] Initramfs = File.ReadAllBytes(Guest.InitramfsPath);

    static FSharpList<Layout.MemoryRange> TwoNodeRanges()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ssihv-boot-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              "name": "boot-test",
              "nodes": [
                { "id": 0, "cpus": 2, "memoryMiB": 1024 },
                { "id": 1, "cpus": 0, "memoryMiB": 1024, "initiator": 0 }
              ]
            }
            """);
        try
        {
            Assert.True(TopologyFile.TryLoad(path, out var topology, out var problems), string.Join("\n", problems));
            return Layout.ranges(topology);
        }
        finally
        {
            File.Delete(path);
        }
    }

    static BootPlan.BootInputs Inputs() => new(
        TwoNodeRanges(), CommandLine, FSharpOption<ReadOnlyMemory<byte>>.Some(Initramfs), Rsdp);

    static T Ok<T>(FSharpResult<T, BzImage.BzImageError> result)
    {
        Assert.True(result.IsOk, result.IsError ? BzImage.BzImageErrorModule.text(result.ErrorValue) : "");
        return result.ResultValue;
    }

    static T Ok<T>(FSharpResult<T, Pvh.PvhError> result)
    {
        Assert.True(result.IsOk, result.IsError ? Pvh.PvhErrorModule.text(result.ErrorValue) : "");
        return result.ResultValue;
    }

    static BootPlan.Chunk Chunk(BootPlan.Plan plan, string name) => Assert.Single(plan.Chunks, c => c.Name == name);

    static BootPlan.Chunk ChunkAt(BootPlan.Plan plan, ulong address) => Assert.Single(plan.Chunks, c => c.Address == address);

    static ulong U8(byte[] b, int at) => b[at];
    static ulong U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    static ulong U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    /// The highest page-aligned start below the top of RAM (0x80000000, under Debian's initrd_addr_max
    /// 0x7FFFFFFF) for the initramfs: boot.rst's "as high as possible".
    static ulong ExpectedInitrdAddress => (0x80000000UL - (ulong)Initramfs.Length) / 4096 * 4096;

    [Fact]
    public void Setup_header_of_vmlinuz_matches_the_file_bytes()
    {
        var header = Ok(BzImage.parse("vmlinuz", Vmlinuz)).Header;
        var setupSects = (int)U8(Vmlinuz, 0x1F1);

        Assert.Equal(0xAA55UL, U16(Vmlinuz, 0x1FE));
        Assert.Equal("HdrS", Encoding.ASCII.GetString(Vmlinuz, 0x202, 4));
        Assert.Equal(setupSects == 0 ? 4 : setupSects, header.SetupSectors);
        Assert.Equal(U16(Vmlinuz, 0x206), header.Version);
        Assert.Equal(U8(Vmlinuz, 0x211), header.LoadFlags);
        Assert.Equal(U32(Vmlinuz, 0x22C), header.InitrdAddrMax);
        Assert.Equal(U32(Vmlinuz, 0x230), header.KernelAlignment);
        Assert.Equal(U8(Vmlinuz, 0x234) != 0, header.Relocatable);
        Assert.Equal(U16(Vmlinuz, 0x236), header.XLoadFlags);
        Assert.Equal(U32(Vmlinuz, 0x238), header.CmdlineSize);
        Assert.Equal(U64(Vmlinuz, 0x258), header.PrefAddress);
        Assert.Equal(U32(Vmlinuz, 0x260), header.InitSize);
        Assert.Equal(0x202 + Vmlinuz[0x201], header.HeaderEnd);
        // What a 64-bit loader relies on: protocol 2.12+, LOADED_HIGH, XLF_KERNEL_64.
        Assert.True(header.Version >= 0x020C);
        Assert.Equal(1, header.LoadFlags & 1);
        Assert.Equal(1, header.XLoadFlags & 1);
    }

    [Fact]
    public void Zero_page_places_command_line_initrd_e820_and_rsdp_where_the_plan_says()
    {
        var kernel = Ok(BzImage.parse("vmlinuz", Vmlinuz));
        var plan = Ok(BzImage.plan(kernel, Inputs()));
        var page = Chunk(plan, "zero page").Bytes.ToArray();
        var headerEnd = 0x202 + Vmlinuz[0x201];

        Assert.Equal(BootPlan.zeroPageAddress, Chunk(plan, "zero page").Address);
        Assert.Equal(4096, page.Length);

        // The setup header is the file's, except the fields a loader writes (boot.rst: type_of_loader, ramdisk_*,
        // cmd_line_ptr).
        Assert.Equal(Vmlinuz[0x1F1..0x210], page[0x1F1..0x210]);
        Assert.Equal(Vmlinuz[0x211..0x218], page[0x211..0x218]);
        Assert.Equal(Vmlinuz[0x220..0x228], page[0x220..0x228]);
        Assert.Equal(Vmlinuz[0x22C..headerEnd], page[0x22C..headerEnd]);
        Assert.Equal(0xFF, page[0x210]);

        var commandLine = Chunk(plan, "command line");
        Assert.Equal(commandLine.Address, U32(page, 0x228) | U32(page, 0x0C8) << 32);
        Assert.Equal(Encoding.ASCII.GetBytes(CommandLine + "\0"), commandLine.Bytes.ToArray());

        var initrd = Chunk(plan, "initrd");
        Assert.Equal(ExpectedInitrdAddress, initrd.Address);
        Assert.Equal(initrd.Address, U32(page, 0x218) | U32(page, 0x0C0) << 32);
        Assert.Equal((ulong)Initramfs.Length, U32(page, 0x21C) | U32(page, 0x0C4) << 32);
        Assert.Equal(Initramfs, initrd.Bytes.ToArray());

        Assert.Equal((ulong)TwoNodeMap.Length, U8(page, 0x1E8));
        var e820 = Enumerable.Range(0, TwoNodeMap.Length)
            .Select(i => 0x2D0 + 20 * i)
            .Select(at => (U64(page, at), U64(page, at + 8), (uint)U32(page, at + 16)))
            .ToArray();
        Assert.Equal(TwoNodeMap, e820);
        Assert.Equal(Rsdp, U64(page, 0x070));

        var setupSects = Vmlinuz[0x1F1] == 0 ? 4 : Vmlinuz[0x1F1];
        var kernelChunk = Chunk(plan, "kernel");
        Assert.Equal(U64(Vmlinuz, 0x258), kernelChunk.Address);
        Assert.Equal(Vmlinuz[((setupSects + 1) * 512)..], kernelChunk.Bytes.ToArray());
        Assert.Equal(Math.Max(U32(Vmlinuz, 0x260), (ulong)kernelChunk.Bytes.Length), kernelChunk.Extent);

        // boot.rst, 64-bit protocol: entry at load address + 0x200, RSI = zero page, paging on, interrupts off.
        var entry = plan.Entry;
        Assert.Equal(kernelChunk.Address + 0x200, entry.Rip);
        Assert.Equal(BootPlan.zeroPageAddress, entry.Rsi);
        Assert.Equal(BootPlan.pml4Address, entry.Cr3);
        Assert.Equal(0x80000001UL, entry.Cr0);
        Assert.Equal(0x500UL, entry.Efer);
        Assert.Equal(0UL, entry.Rflags & 0x200);
        Assert.Equal((ushort)0x10, entry.Cs.Selector);
        Assert.True(entry.Cs.Long);
        Assert.Equal((ushort)0x18, entry.Ds.Selector);
    }

    [Fact]
    public void E820_of_two_nodes_is_the_layout()
    {
        var map = E820.ofRanges(TwoNodeRanges())
            .Select(e => (e.Base, e.Length, E820.E820TypeModule.code(e.Type)))
            .ToArray();
        Assert.Equal(TwoNodeMap, map);
    }

    /// `readelf -nW` prints each note's description bytes after its type (on the same line with -W).
    static uint Phys32EntryFromReadelf()
    {
        var output = ExternalProcess.Output("readelf", "-nW", Guest.KernelPath);
        var match = Regex.Match(output, @"Xen\s+0x0*([48])\s+Unknown note type: \(0x00000012\)\s+description data: ((?:[0-9a-f]{2} ?)+)");
        Assert.True(match.Success, $"readelf -n shows no XEN_ELFNOTE_PHYS32_ENTRY note in {Guest.KernelPath}:\n{output}");
        var bytes = match.Groups[2].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(h => byte.Parse(h, NumberStyles.HexNumber)).ToArray();
        var value = bytes.Length == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        return checked((uint)value);
    }

    /// PT_LOAD lines of `readelf -lW`: offset, paddr, filesz, memsz.
    static (ulong Offset, ulong Paddr, ulong FileSize, ulong MemorySize)[] LoadSegmentsFromReadelf()
    {
        var output = ExternalProcess.Output("readelf", "-lW", Guest.KernelPath);
        return Regex.Matches(output, @"^\s*LOAD\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)", RegexOptions.Multiline)
            .Select(m => (Hex(m.Groups[1].Value), Hex(m.Groups[2].Value), Hex(m.Groups[3].Value), Hex(m.Groups[4].Value)))
            .ToArray();
    }

    static ulong Hex(string s) => ulong.Parse(s, NumberStyles.HexNumber);

    [Fact]
    public void Pvh_entry_and_segments_of_vmlinux_match_readelf()
    {
        var kernel = Ok(Pvh.parse("vmlinux", Vmlinux));
        Assert.Equal(Phys32EntryFromReadelf(), kernel.Entry);
        Assert.Equal(
            LoadSegmentsFromReadelf(),
            kernel.Segments.Select(s => (s.FileOffset, s.PhysicalAddress, s.FileSize, s.MemorySize)).ToArray());
    }

    [Fact]
    public void Hvm_start_info_for_vmlinux_points_at_the_planned_data()
    {
        var kernel = Ok(Pvh.parse("vmlinux", Vmlinux));
        var plan = Ok(Pvh.plan(kernel, Inputs()));
        var startInfo = Chunk(plan, "hvm_start_info");
        var info = startInfo.Bytes.ToArray();

        // start_info.h: magic@0 version@4 flags@8 nr_modules@12 modlist_paddr@16 cmdline_paddr@24 rsdp_paddr@32
        // memmap_paddr@40 memmap_entries@48 reserved@52.
        Assert.Equal(56, info.Length);
        Assert.Equal(0x336ec578UL, U32(info, 0));
        Assert.Equal(1UL, U32(info, 4));
        Assert.Equal(0UL, U32(info, 8));
        Assert.Equal(1UL, U32(info, 12));
        Assert.Equal(Rsdp, U64(info, 32));
        Assert.Equal(0UL, U32(info, 52));

        var modlist = ChunkAt(plan, U64(info, 16)).Bytes.ToArray();
        var initrd = Chunk(plan, "initrd");
        Assert.Equal(ExpectedInitrdAddress, U64(modlist, 0));
        Assert.Equal(initrd.Address, U64(modlist, 0));
        Assert.Equal((ulong)Initramfs.Length, U64(modlist, 8));
        Assert.Equal(0UL, U64(modlist, 16));
        Assert.Equal(Initramfs, initrd.Bytes.ToArray());

        Assert.Equal(Encoding.ASCII.GetBytes(CommandLine + "\0"), ChunkAt(plan, U64(info, 24)).Bytes.ToArray());

        var memmap = ChunkAt(plan, U64(info, 40)).Bytes.ToArray();
        Assert.Equal((ulong)TwoNodeMap.Length, U32(info, 48));
        var entries = Enumerable.Range(0, TwoNodeMap.Length)
            .Select(i => 24 * i)
            .Select(at => (U64(memmap, at), U64(memmap, at + 8), (uint)U32(memmap, at + 16)))
            .ToArray();
        Assert.Equal(TwoNodeMap, entries);

        foreach (var (segment, index) in LoadSegmentsFromReadelf().Select((s, i) => (s, i)))
        {
            var chunk = Chunk(plan, $"vmlinux segment {index}");
            Assert.Equal(segment.Paddr, chunk.Address);
            Assert.Equal(segment.MemorySize, chunk.Extent);
            Assert.True(Vmlinux.AsSpan((int)segment.Offset, (int)segment.FileSize).SequenceEqual(chunk.Bytes.Span));
        }

        // PVH entry: 32-bit protected mode, paging off, EBX = hvm_start_info.
        Assert.Equal(Phys32EntryFromReadelf(), plan.Entry.Rip);
        Assert.Equal(startInfo.Address, plan.Entry.Rbx);
        Assert.Equal(1UL, plan.Entry.Cr0);
        Assert.Equal(0UL, plan.Entry.Efer);
        Assert.True(plan.Entry.Cs.DefaultSize32);
        Assert.False(plan.Entry.Cs.Long);
        Assert.Equal(0xFFFFFFFFu, plan.Entry.Cs.Limit);
    }

    [Fact]
    public void Each_parser_rejects_the_other_format_with_a_message_naming_the_file()
    {
        Assert.Equal(
            "vmlinuz is not an ELF file (it does not start with 0x7F 'E' 'L' 'F')",
            Pvh.PvhErrorModule.text(Pvh.parse("vmlinuz", Vmlinuz).ErrorValue));
        Assert.StartsWith("vmlinux is not a Linux bzImage: boot_flag at 0x1FE", BzImage.BzImageErrorModule.text(BzImage.parse("vmlinux", Vmlinux).ErrorValue));
    }

    [Fact]
    public void A_kernel_that_does_not_fit_names_its_range_and_where_RAM_ends()
    {
        var kernel = Ok(BzImage.parse("vmlinuz", Vmlinuz));
        var small = ListModule.OfSeq(new[]
        {
            new Layout.MemoryRange(NodeId.NewNodeId(0), 0, 0xA0000),
            new Layout.MemoryRange(NodeId.NewNodeId(0), 0x100000, 0x1F00000),
        });
        var inputs = new BootPlan.BootInputs(small, "", FSharpOption<ReadOnlyMemory<byte>>.None, Rsdp);
        var loadAddress = U64(Vmlinuz, 0x258);
        var end = loadAddress + Math.Max(U32(Vmlinuz, 0x260), (ulong)(Vmlinuz.Length - ((Vmlinuz[0x1F1] == 0 ? 4 : Vmlinuz[0x1F1]) + 1) * 512));
        Assert.Equal(
            $"memory too small for the image: kernel needs [0x{loadAddress:X}, 0x{end:X}) but RAM of node 0 ends at 0x1FFFFFF",
            BzImage.BzImageErrorModule.text(BzImage.plan(kernel, inputs).ErrorValue));
    }
}
