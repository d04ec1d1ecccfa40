using System.Globalization;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// What a Linux guest reported about its NUMA topology and the ACPI tables it was given: the report that
/// <c>tests/linux-guest/init.sh</c> prints between <see cref="BeginMarker"/> and <see cref="EndMarker"/>.
/// </summary>
/// <param name="KernelRelease"><c>uname -r</c> of the guest.</param>
/// <param name="OnlineNodes"><c>/sys/devices/system/node/online</c>.</param>
/// <param name="Nodes">One entry per <c>/sys/devices/system/node/nodeN</c>, ordered by id.</param>
/// <param name="AcpiTables">
/// Raw bytes of every file in <c>/sys/firmware/acpi/tables/</c>, keyed by file name (<c>SRAT</c>,
/// <c>SLIT</c>, <c>HMAT</c>, <c>APIC</c>, <c>FACP</c>, <c>DSDT</c>, ...; a second table of one signature is
/// named <c>SSDT2</c> etc. by the kernel).
/// </param>
/// <param name="KernelLog">The kernel log lines that mention ACPI, NUMA, SRAT, SLIT, HMAT or nodes.</param>
/// <param name="OnlineCpus"><c>/sys/devices/system/cpu/online</c>.</param>
/// <param name="Problems">The kernel log lines of level warning (4) or worse, raw (<c>&lt;4&gt;[time] text</c>).</param>
public sealed record NumaView(
    string KernelRelease,
    IReadOnlySet<int> OnlineNodes,
    IReadOnlyList<NodeView> Nodes,
    IReadOnlyDictionary<string, byte[]> AcpiTables,
    IReadOnlyList<string> KernelLog,
    IReadOnlySet<int> OnlineCpus,
    IReadOnlyList<string> Problems)
{
    public const string BeginMarker = "SSIHV-NUMA-BEGIN";
    public const string EndMarker = "SSIHV-NUMA-END";

    /// <summary>The node with the given id; throws if the guest has no such node.</summary>
    public NodeView Node(int id) =>
        Nodes.SingleOrDefault(n => n.Id == id)
        ?? throw new KeyNotFoundException($"the guest reported no node{id} (nodes: {string.Join(",", Nodes.Select(n => n.Id))})");

    /// <summary>
    /// Parses the report out of console output. Text before the begin marker (firmware and kernel
    /// messages) and after the end marker is ignored; the marker line may start with terminal escapes.
    /// </summary>
    public static NumaView Parse(IEnumerable<string> consoleLines)
    {
        var report = new ReportBuilder();
        var state = ParseState.BeforeReport;
        foreach (var rawLine in consoleLines)
        {
            var line = rawLine.TrimEnd('\r', '\n', ' ');
            switch (state)
            {
                case ParseState.BeforeReport when line.EndsWith(BeginMarker, StringComparison.Ordinal):
                    state = ParseState.InReport;
                    break;
                case ParseState.InReport when line == EndMarker:
                    state = ParseState.Done;
                    break;
                case ParseState.InReport:
                    report.Add(line);
                    break;
            }
        }
        return state switch
        {
            ParseState.BeforeReport => throw new FormatException($"no {BeginMarker} line in the console output"),
            ParseState.InReport => throw new FormatException($"the report has no {EndMarker} line"),
            _ => report.Build(),
        };
    }

    /// <summary>Parses a Linux cpu/node list such as <c>0-3,8,10-11</c>; empty text is the empty set.</summary>
    public static IReadOnlySet<int> ParseList(string text)
    {
        var result = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-');
            var first = ParseInt(dash < 0 ? part : part[..dash]);
            var last = dash < 0 ? first : ParseInt(part[(dash + 1)..]);
            for (var i = first; i <= last; i++)
                result.Add(i);
        }
        return result;
    }

    enum ParseState { BeforeReport, InReport, Done }

    static int ParseInt(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

    static long ParseLong(string text) => long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Collects report lines (see the format in init.sh) in any order.</summary>
    sealed class ReportBuilder
    {
        string? kernelRelease;
        IReadOnlySet<int> onlineNodes = new SortedSet<int>();
        readonly SortedDictionary<int, NodeBuilder> nodes = new();
        readonly SortedDictionary<string, byte[]> acpiTables = new(StringComparer.Ordinal);
        readonly List<string> kernelLog = new();
        IReadOnlySet<int> onlineCpus = new SortedSet<int>();
        readonly List<string> problems = new();

        public void Add(string line)
        {
            var kind = Word(line, out var rest);
            switch (kind)
            {
                case "kernel": kernelRelease = rest; break;
                case "online": onlineNodes = ParseList(rest); break;
                case "log": kernelLog.Add(rest); break;
                case "cpus": onlineCpus = ParseList(rest); break;
                case "problem": problems.Add(rest); break;
                case "acpi":
                    var signature = Word(rest, out var base64);
                    acpiTables[signature] = Convert.FromBase64String(base64);
                    break;
                case "node":
                    var id = ParseInt(Word(rest, out var nodeFields));
                    if (!nodes.TryGetValue(id, out var node))
                        nodes[id] = node = new NodeBuilder(id);
                    node.Add(nodeFields, line);
                    break;
                default:
                    throw new FormatException($"unknown report line: {line}");
            }
        }

        public NumaView Build() => new(
            kernelRelease ?? throw new FormatException("the report has no kernel line"),
            onlineNodes,
            nodes.Values.Select(n => n.Build()).ToList(),
            acpiTables,
            kernelLog,
            onlineCpus,
            problems);
    }

    sealed class NodeBuilder(int id)
    {
        IReadOnlySet<int>? cpus;
        long? memTotalKiB;
        IReadOnlyList<int>? distances;
        readonly SortedDictionary<int, AccessClassBuilder> accessClasses = new();
        readonly SortedDictionary<int, Dictionary<string, long>> caches = new();

        public void Add(string fields, string line)
        {
            var field = Word(fields, out var value);
            switch (field)
            {
                case "cpulist": cpus = ParseList(value); break;
                case "memtotal_kib": memTotalKiB = ParseLong(value); break;
                case "distance":
                    distances = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ParseInt).ToList();
                    break;
                case "cache":
                    var level = ParseInt(Word(value, out var attribute));
                    if (!caches.TryGetValue(level, out var cache))
                        caches[level] = cache = new Dictionary<string, long>(StringComparer.Ordinal);
                    var name = Word(attribute, out var number);
                    cache[name] = ParseLong(number);
                    break;
                case var access when access.StartsWith("access", StringComparison.Ordinal):
                    var accessClass = ParseInt(access["access".Length..]);
                    if (!accessClasses.TryGetValue(accessClass, out var builder))
                        accessClasses[accessClass] = builder = new AccessClassBuilder();
                    builder.Add(value, line);
                    break;
                default:
                    throw new FormatException($"unknown node field in: {line}");
            }
        }

        public NodeView Build()
        {
            string Missing(string what) => $"node{id}: the report has no {what} line";
            return new NodeView(
                id,
                cpus ?? throw new FormatException(Missing("cpulist")),
                memTotalKiB ?? throw new FormatException(Missing("memtotal_kib")),
                distances ?? throw new FormatException(Missing("distance")),
                accessClasses.GetValueOrDefault(0)?.Build(),
                accessClasses.GetValueOrDefault(1)?.Build(),
                caches.Select(c => BuildCache(c.Key, c.Value)).ToList());
        }

        MemorySideCacheView BuildCache(int level, Dictionary<string, long> attributes)
        {
            long Get(string name) => attributes.TryGetValue(name, out var value)
                ? value
                : throw new FormatException($"node{id} cache index{level}: the report has no {name}");
            return new MemorySideCacheView(
                level,
                Get("size"),
                (int)Get("line_size"),
                (CacheIndexing)Get("indexing"),
                (CacheWritePolicy)Get("write_policy"));
        }
    }

    sealed class AccessClassBuilder
    {
        IReadOnlySet<int> initiators = new SortedSet<int>();
        readonly Dictionary<string, long> attributes = new(StringComparer.Ordinal);

        public void Add(string fields, string line)
        {
            var field = Word(fields, out var value);
            switch (field)
            {
                case "initiators":
                    initiators = new SortedSet<int>(value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ParseInt));
                    break;
                case "read_latency" or "write_latency" or "read_bandwidth" or "write_bandwidth":
                    attributes[field] = ParseLong(value);
                    break;
                default:
                    throw new FormatException($"unknown access class field in: {line}");
            }
        }

        public AccessClassView Build() => new(
            initiators,
            attributes.TryGetValue("read_latency", out var readLatency) ? readLatency : null,
            attributes.TryGetValue("write_latency", out var writeLatency) ? writeLatency : null,
            attributes.TryGetValue("read_bandwidth", out var readBandwidth) ? readBandwidth : null,
            attributes.TryGetValue("write_bandwidth", out var writeBandwidth) ? writeBandwidth : null);
    }

    /// <summary>Returns the first space-separated word of <paramref name="text"/> and, in
    /// <paramref name="rest"/>, what follows it.</summary>
    static string Word(string text, out string rest)
    {
        var space = text.IndexOf(' ');
        rest = space < 0 ? "" : text[(space + 1)..];
        return space < 0 ? text : text[..space];
    }
}

/// <summary>One <c>/sys/devices/system/node/nodeN</c>.</summary>
/// <param name="Cpus">The node's <c>cpulist</c>; empty for a memory-only node.</param>
/// <param name="MemTotalKiB"><c>MemTotal</c> from the node's <c>meminfo</c>: its RAM minus what the kernel
/// reserved at boot.</param>
/// <param name="Distances">The node's <c>distance</c> row (SLIT row), indexed by node id.</param>
/// <param name="Access0">HMAT performance from the nearest initiators of any kind (<c>access0</c>);
/// null when the kernel made no access class (no HMAT, or HMAT gave nothing for this node).</param>
/// <param name="Access1">The same for the nearest CPU initiators (<c>access1</c>).</param>
/// <param name="Caches">HMAT memory-side caches (<c>memory_side_cache/indexK</c>), ordered by level.</param>
public sealed record NodeView(
    int Id,
    IReadOnlySet<int> Cpus,
    long MemTotalKiB,
    IReadOnlyList<int> Distances,
    AccessClassView? Access0,
    AccessClassView? Access1,
    IReadOnlyList<MemorySideCacheView> Caches);

/// <summary>
/// <c>nodeN/accessK/initiators/</c>: the initiator nodes the kernel ranked best for this target, and the
/// HMAT performance from them. Latencies are in nanoseconds, bandwidths in MB/s, as sysfs gives them; a
/// value is null when sysfs has no such file.
/// </summary>
public sealed record AccessClassView(
    IReadOnlySet<int> Initiators,
    long? ReadLatencyNs,
    long? WriteLatencyNs,
    long? ReadBandwidthMBps,
    long? WriteBandwidthMBps);

/// <summary><c>nodeN/memory_side_cache/indexK</c>.</summary>
public sealed record MemorySideCacheView(
    int Level,
    long SizeBytes,
    int LineBytes,
    CacheIndexing Indexing,
    CacheWritePolicy WritePolicy);

/// <summary>Linux's <c>enum cache_indexing</c> (include/linux/node.h), mapped from the HMAT associativity.</summary>
public enum CacheIndexing
{
    DirectMapped = 0,
    Indexed = 1,
    Other = 2,
}

/// <summary>Linux's <c>enum cache_write_policy</c> (include/linux/node.h).</summary>
public enum CacheWritePolicy
{
    WriteBack = 0,
    WriteThrough = 1,
    Other = 2,
}
