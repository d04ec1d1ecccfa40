using System.Diagnostics;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using SsiHv.Shell.Processes;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Bench;

/// <summary>
/// What <c>ssihv bench boot</c> cannot see from outside the <c>ssihv run</c> child it starts: when the VMM began
/// creating the VM, when the BSP entered its first KVM_RUN, and how much host memory the VMM holds apart from
/// guest RAM. Only when <see cref="Variable"/> is "1" are marks recorded (in memory, so the boot is not slowed by
/// console writes) and written to stderr, with the VM's memory, once the guest has stopped. Timestamps are
/// <see cref="Stopwatch"/> ticks, i.e. CLOCK_MONOTONIC, which the benchmark process shares with its child.
/// </summary>
public static class BootTimeline
{
    public const string Variable = "SSIHV_BENCH_TIMELINE";
    public const string VmCreate = "vm-create";
    public const string FirstGuestEntry = "first-guest-entry";
    public const string GuestStopped = "guest-stopped";
    const string LinePrefix = "SSIHV_BENCH ";
    const int PageSize = 4096;
    /// /proc/PID/pagemap: one 64-bit entry per virtual page; bit 63 = present in RAM (what VmRSS counts).
    const ulong PagePresent = 1UL << 63;

    static readonly bool Enabled = Environment.GetEnvironmentVariable(Variable) == "1";
    static readonly List<(string Name, long Ticks)> Marks = [];

    public static void Mark(string name)
    {
        if (!Enabled)
            return;
        var ticks = Stopwatch.GetTimestamp();
        lock (Marks)
            Marks.Add((name, ticks));
    }

    /// Called once the guest has stopped and before its memory is unmapped: prints the marks and the memory line.
    public static void ReportGuestStopped(IReadOnlyList<GuestMemory.Region> guestRegions)
    {
        if (!Enabled)
            return;
        Mark(GuestStopped);
        var status = ProcessStatus.KiB("self", "VmRSS", "RssAnon", "RssFile", "RssShmem");
        var guestResidentKiB = guestRegions.Sum(r => ResidentPages(r.Mapping.Address, r.Mapping.Length)) * (PageSize / 1024);
        lock (Marks)
            foreach (var (name, ticks) in Marks)
                Console.Error.WriteLine(FormattableString.Invariant($"{LinePrefix}mark {name} {ticks}"));
        Console.Error.WriteLine(FormattableString.Invariant(
            $"{LinePrefix}memory {status["VmRSS"]} {status["RssAnon"]} {status["RssFile"]} {status["RssShmem"]} {guestResidentKiB}"));
    }

    /// Reads one line this class wrote; false for any other stderr line.
    public static bool TryParse(string line, out TimelineLine parsed)
    {
        parsed = null!;
        if (!line.StartsWith(LinePrefix, StringComparison.Ordinal))
            return false;
        var words = line[LinePrefix.Length..].Split(' ');
        switch (words)
        {
            case ["mark", var name, var ticks] when long.TryParse(ticks, CultureInfo.InvariantCulture, out var value):
                parsed = new TimelineLine.MarkLine(name, value);
                return true;
            case ["memory", .. var numbers] when numbers.Length == 5 && numbers.All(n => long.TryParse(n, CultureInfo.InvariantCulture, out _)):
                var kib = numbers.Select(n => long.Parse(n, CultureInfo.InvariantCulture)).ToArray();
                parsed = new TimelineLine.MemoryLine(new VmmMemory(kib[0], kib[1], kib[2], kib[3], kib[4]));
                return true;
            default:
                return false;
        }
    }

    /// Pages of [address, address + length) that are in RAM, counted from /proc/self/pagemap.
    static long ResidentPages(nint address, ulong length)
    {
        const int EntriesPerRead = 65536;
        using SafeFileHandle pagemap = File.OpenHandle("/proc/self/pagemap");
        var buffer = new byte[EntriesPerRead * sizeof(ulong)];
        var firstPage = (ulong)address / PageSize;
        var pages = length / PageSize;
        long resident = 0;
        for (ulong done = 0; done < pages;)
        {
            var wanted = (int)Math.Min((ulong)EntriesPerRead, pages - done) * sizeof(ulong);
            var read = RandomAccess.Read(pagemap, buffer.AsSpan(0, wanted), (long)((firstPage + done) * sizeof(ulong)));
            if (read <= 0)
                throw new IOException($"/proc/self/pagemap ended at page 0x{firstPage + done:X}");
            for (var offset = 0; offset + sizeof(ulong) <= read; offset += sizeof(ulong))
                if ((BitConverter.ToUInt64(buffer, offset) & PagePresent) != 0)
                    resident++;
            done += (ulong)(read / sizeof(ulong));
        }
        return resident;
    }
}

/// <summary>The VMM process's memory when the guest stopped, in KiB, from /proc/self/status and pagemap.</summary>
public sealed record VmmMemory(long VmRssKiB, long RssAnonKiB, long RssFileKiB, long RssShmemKiB, long GuestResidentKiB)
{
    /// Resident memory that is not guest RAM: runtime, JIT'd code, heaps, mapped libraries, thread stacks.
    public long OverheadKiB => VmRssKiB - GuestResidentKiB;
    /// The part of the overhead that is private anonymous memory (heaps, stacks, JIT output).
    public long AnonymousOverheadKiB => RssAnonKiB - GuestResidentKiB;
}

public abstract record TimelineLine
{
    public sealed record MarkLine(string Name, long Ticks) : TimelineLine;
    public sealed record MemoryLine(VmmMemory Memory) : TimelineLine;
}
