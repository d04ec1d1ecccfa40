namespace SsiHv.Shell.Cluster;

/// <summary>
/// The cluster `ssihv up` forms when no --topology is given: examples/two-node.json (a CPU node and a
/// memory-only node), built in so that `up` works from any directory.
/// </summary>
public static class DefaultTopology
{
    public const string Name = "(built-in two-node topology)";

    public const string Json = """
        {
          "name": "two-node",
          "nodes": [
            { "id": 0, "cpus": 2, "memoryMiB": 1024, "address": "127.0.0.1:7100" },
            { "id": 1, "cpus": 0, "memoryMiB": 1024, "address": "127.0.0.1:7101", "initiator": 0 }
          ],
          "distances":     [[10, 40], [40, 10]],
          "latencyNs":     [[100, 2000], [2000, 100]],
          "bandwidthMBps": [[20480, 5120], [5120, 20480]],
          "caches": [
            { "node": 1, "sizeMiB": 64, "level": 1, "associativity": "direct", "writePolicy": "write-back", "lineBytes": 64 }
          ]
        }
        """;
}
