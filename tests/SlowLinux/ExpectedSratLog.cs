using System.Globalization;
using System.Text.RegularExpressions;
using SsiHv.Core.Memory;
using SsiHv.Core.Topology;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Tests.SlowLinux;

/// <summary>
/// The lines Linux 6.1 prints while it parses our SRAT, computed from the topology, and the same lines picked
/// out of a console log. Formats, as in the kernel binary's strings:
/// <list type="bullet">
/// <item>memory (drivers/acpi/numa/srat.c, acpi_numa_memory_affinity_init, pr_fmt "ACPI: "):
/// <c>ACPI: SRAT: Node %u PXM %u [mem %#010Lx-%#010Lx]%s%s</c> — the last two are " hotplug" and
/// " non-volatile", which our SRAT never sets;</item>
/// <item>CPUs (arch/x86/mm/srat.c): <c>SRAT: PXM %u -> APIC 0x%02x -> Node %u</c> for Local APIC affinity
/// entries and <c>SRAT: PXM %u -> APIC 0x%04x -> Node %u</c> for x2APIC entries (APIC IDs ≥ 255).</item>
/// </list>
/// Linux numbers nodes in the order it first meets proximity domains (acpi_map_pxm_to_node): the processor
/// entries first, in table order (CPU order), then the memory entries in address order.
/// </summary>
public static class ExpectedSratLog
{
    /// Our SRAT writes x2APIC affinity entries from this APIC ID on (DESIGN.md §4.4).
    const int FirstX2ApicId = 255;

    static readonly Regex MemoryLine = new(@"ACPI: SRAT: Node \d+ PXM \d+ \[mem [^\]]*\].*$", RegexOptions.Compiled);
    static readonly Regex CpuLine = new(@"(?<!ACPI: )SRAT: PXM \d+ -> APIC 0x[0-9a-f]+ -> Node \d+.*$", RegexOptions.Compiled);

    /// PXM → Linux node number, as acpi_map_pxm_to_node hands them out.
    public static IReadOnlyDictionary<int, int> LinuxNodes(CoreTopology topology)
    {
        var order = TopologyModule.cpuNodes(topology).Concat(Layout.ranges(topology).Select(r => r.Node));
        var nodes = new Dictionary<int, int>();
        foreach (var pxm in order)
            nodes.TryAdd(pxm, nodes.Count);
        return nodes;
    }

    /// One line per memory affinity entry, i.e. per range of <see cref="Layout.ranges"/>.
    public static IReadOnlyList<string> MemoryLines(CoreTopology topology)
    {
        var nodes = LinuxNodes(topology);
        return Layout.ranges(topology)
            .Select(r => $"ACPI: SRAT: Node {nodes[r.Node]} PXM {r.Node} [mem {Hex010(r.Base)}-{Hex010(r.Base + r.Length - 1)}]")
            .ToList();
    }

    /// One line per CPU; APIC ID = CPU index (DESIGN.md §4.2).
    public static IReadOnlyList<string> CpuLines(CoreTopology topology)
    {
        var nodes = LinuxNodes(topology);
        return TopologyModule.cpuNodes(topology)
            .Select((pxm, apicId) => apicId < FirstX2ApicId
                ? $"SRAT: PXM {pxm} -> APIC 0x{apicId:x2} -> Node {nodes[pxm]}"
                : $"SRAT: PXM {pxm} -> APIC 0x{apicId:x4} -> Node {nodes[pxm]}")
            .ToList();
    }

    /// printk's <c>%#010Lx</c>: "0x" and at least 8 lower-case digits (Linux's vsprintf prints the 0x even for 0).
    public static string Hex010(ulong value) => "0x" + value.ToString("x8", CultureInfo.InvariantCulture);

    /// The memory-affinity lines of a console log, without their printk timestamps, in log order.
    public static IReadOnlyList<string> MemoryLinesIn(string log) => Matches(MemoryLine, log);

    public static IReadOnlyList<string> CpuLinesIn(string log) => Matches(CpuLine, log);

    static List<string> Matches(Regex pattern, string log) =>
        log.Split('\n')
            .Select(line => pattern.Match(line.TrimEnd('\r')))
            .Where(m => m.Success)
            .Select(m => m.Value)
            .ToList();
}
