using System.Globalization;
using SsiHv.Core.Topology;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Tests.Acpi;

/// <summary>
/// The `qemu-system-x86_64 -machine pc,hmat=on -numa ...` options that describe the same machine as a topology,
/// so that QEMU's own SRAT/SLIT/HMAT can be compared with ours. QEMU takes latency in ns and bandwidth in
/// bytes/s with binary suffixes, and writes bandwidth/MiB into HMAT, so our MB/s value N is passed as "NM".
/// </summary>
public static class QemuEquivalentNuma
{
    public const string Machine = "pc,smm=off,hmat=on";

    public static IReadOnlyList<string> Arguments(CoreTopology t)
    {
        var args = new List<string>();
        var firstCpu = 0;
        foreach (var node in t.Nodes)
        {
            args.AddRange(["-object", $"memory-backend-ram,size={node.MemoryMiB}M,id=m{node.Id}"]);
            var cpus = node.Cpus == 0 ? "" : $",cpus={firstCpu}-{firstCpu + node.Cpus - 1}";
            var initiator = node.Cpus == 0 && node.Initiator is not null ? $",initiator={node.Initiator.Value}" : "";
            args.AddRange(["-numa", $"node,nodeid={node.Id}{cpus},memdev=m{node.Id}{initiator}"]);
            firstCpu += node.Cpus;
        }
        for (var from = 0; from < t.Nodes.Length; from++)
            for (var to = 0; to < t.Nodes.Length; to++)
                if (from != to)
                    args.AddRange(["-numa", $"dist,src={from},dst={to},val={t.Distances[from][to]}"]);
        foreach (var initiator in TopologyModule.initiatorNodes(t))
            foreach (var target in TopologyModule.memoryNodes(t))
            {
                if (t.LatencyNs is not null)
                    args.AddRange(["-numa", $"hmat-lb,initiator={initiator.Id},target={target.Id},hierarchy=memory,data-type=access-latency,latency={t.LatencyNs.Value[initiator.Id][target.Id]}"]);
                if (t.BandwidthMBps is not null)
                    args.AddRange(["-numa", $"hmat-lb,initiator={initiator.Id},target={target.Id},hierarchy=memory,data-type=access-bandwidth,bandwidth={t.BandwidthMBps.Value[initiator.Id][target.Id]}M"]);
            }
        foreach (var cache in t.Caches.OrderBy(c => c.Node).ThenBy(c => c.Level))
        {
            var associativity = cache.Associativity.IsDirectMapped ? "direct" : cache.Associativity.IsComplexIndexed ? "complex" : "none";
            var policy = cache.WritePolicy.IsWriteBack ? "write-back" : cache.WritePolicy.IsWriteThrough ? "write-through" : "none";
            args.AddRange(["-numa", string.Create(CultureInfo.InvariantCulture,
                $"hmat-cache,node-id={cache.Node},size={cache.SizeBytes / (1024 * 1024)}M,level={cache.Level},associativity={associativity},policy={policy},line={cache.LineBytes}")]);
        }
        return args;
    }
}
