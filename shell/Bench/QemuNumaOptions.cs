using SsiHv.Core.Topology;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The `-object memory-backend-ram` and `-numa node|dist|hmat-lb|hmat-cache` options that make QEMU's pc
/// machine (with `hmat=on` when <see cref="DescribesHmat"/>) build its own SRAT/SLIT/HMAT for the same machine
/// as a topology. QEMU takes latency in ns and bandwidth in bytes/s with binary suffixes and writes
/// bandwidth/MiB into HMAT, so our MB/s value N is passed as "NM". Used by the boot benchmark's reference run
/// and by the tests that compare QEMU's tables with ours.
/// </summary>
public static class QemuNumaOptions
{
    /// QEMU builds an HMAT only when every memory-only node names its initiator; without one it refuses hmat=on.
    public static bool DescribesHmat(CoreTopology topology) =>
        (topology.LatencyNs is not null || topology.BandwidthMBps is not null || !topology.Caches.IsEmpty)
        && topology.Nodes.All(n => n.Cpus > 0 || n.Initiator is not null);

    public static IReadOnlyList<string> Arguments(CoreTopology topology)
    {
        // Node ids are 0..N-1; CPUs are numbered node by node in id order (docs/design.md §4.2).
        var nodes = topology.Nodes.OrderBy(n => n.Id).ToList();
        var hmat = DescribesHmat(topology);
        var arguments = new List<string>();
        var firstCpu = 0;
        foreach (var node in nodes)
        {
            var spec = $"node,nodeid={node.Id}";
            if (node.Cpus > 0)
                spec += $",cpus={firstCpu}-{firstCpu + node.Cpus - 1}";
            firstCpu += node.Cpus;
            if (node.MemoryMiB > 0)
            {
                arguments.AddRange(["-object", $"memory-backend-ram,id=ram{node.Id},size={node.MemoryMiB}M"]);
                spec += $",memdev=ram{node.Id}";
            }
            if (hmat && node.Cpus == 0 && node.Initiator is { } initiator)
                spec += $",initiator={initiator.Value}";
            arguments.AddRange(["-numa", spec]);
        }
        for (var from = 0; from < nodes.Count; from++)
            for (var to = 0; to < nodes.Count; to++)
                if (from != to)
                    arguments.AddRange(["-numa", $"dist,src={from},dst={to},val={topology.Distances[from][to]}"]);
        if (hmat)
            arguments.AddRange(HmatArguments(topology, nodes));
        return arguments;
    }

    static List<string> HmatArguments(CoreTopology topology, List<Core.Topology.Node> nodes)
    {
        var arguments = new List<string>();
        foreach (var initiator in nodes.Where(n => n.Cpus > 0))
            foreach (var target in nodes.Where(n => n.MemoryMiB > 0))
            {
                var pair = $"hmat-lb,initiator={initiator.Id},target={target.Id},hierarchy=memory";
                if (topology.LatencyNs is { } latency)
                    arguments.AddRange(["-numa", $"{pair},data-type=access-latency,latency={latency.Value[initiator.Id.Value][target.Id.Value]}"]);
                if (topology.BandwidthMBps is { } bandwidth)
                    arguments.AddRange(["-numa", $"{pair},data-type=access-bandwidth,bandwidth={bandwidth.Value[initiator.Id.Value][target.Id.Value]}M"]);
            }
        // QEMU wants a node's cache levels in order, each larger than the one before.
        foreach (var cache in topology.Caches.OrderBy(c => c.Node).ThenBy(c => c.Level))
            arguments.AddRange(["-numa",
                $"hmat-cache,node-id={cache.Node},size={cache.SizeBytes},level={cache.Level}"
                + $",associativity={Associativity(cache.Associativity)},policy={WritePolicy(cache.WritePolicy)},line={cache.LineBytes}"]);
        return arguments;
    }

    static string Associativity(CacheAssociativity associativity) =>
        associativity.IsDirectMapped ? "direct" : associativity.IsComplexIndexed ? "complex" : "none";

    static string WritePolicy(CacheWritePolicy policy) =>
        policy.IsWriteBack ? "write-back" : policy.IsWriteThrough ? "write-through" : "none";
}
