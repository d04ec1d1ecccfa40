namespace SsiHv.Shell.Topology;

// The topology file of docs/design.md §4.2 exactly as written. Every member is nullable: a field the user left out
// stays null and becomes None in the core's TopologySpec, so the core validator reports it as "required"
// with its path, the same way as every other broken rule. Members carry no validation of their own.

public sealed class TopologyDocument
{
    public string? Name { get; set; }
    public List<NodeDocument?>? Nodes { get; set; }
    public List<List<long>?>? Distances { get; set; }
    public List<List<long>?>? LatencyNs { get; set; }
    public List<List<long>?>? BandwidthMBps { get; set; }
    public List<CacheDocument?>? Caches { get; set; }
    public string? Placement { get; set; }
}

public sealed class NodeDocument
{
    public int? Id { get; set; }
    public int? Cpus { get; set; }
    public long? MemoryMiB { get; set; }
    public string? Address { get; set; }
    public int? Initiator { get; set; }
}

public sealed class CacheDocument
{
    public int? Node { get; set; }
    public long? SizeMiB { get; set; }
    public int? Level { get; set; }
    public string? Associativity { get; set; }
    public string? WritePolicy { get; set; }
    public int? LineBytes { get; set; }
}
