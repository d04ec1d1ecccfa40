namespace SsiHv.Shell.Cluster;

/// <summary>
/// The cluster `ssihv up` forms when no --topology is given: examples/two-node.json's shape (a CPU node and a
/// memory-only node with its SLIT, HMAT and memory-side cache) at a quarter and half of its memory, so that
/// the probe guest's memtest of every page, paged over the transport, ends in a minute or two on a small
/// machine. Built in so that `up` works from any directory. Under `up --lab` every page is written at TCG speed
/// through a nested KVM, so the lab's default is the same shape at 64 MiB a node.
/// </summary>
public static class DefaultTopology
{
    public const string Name = "(built-in two-node topology)";

    public const string Json = """
        {
          "name": "two-node-cluster",
          "nodes": [
            { "id": 0, "cpus": 2, "memoryMiB": 256, "address": "127.0.0.1:7100" },
            { "id": 1, "cpus": 0, "memoryMiB": 512, "address": "127.0.0.1:7101", "initiator": 0 }
          ],
          "distances":     [[10, 40], [40, 10]],
          "latencyNs":     [[100, 2000], [2000, 100]],
          "bandwidthMBps": [[20480, 5120], [5120, 20480]],
          "caches": [
            { "node": 1, "sizeMiB": 64, "level": 1, "associativity": "direct", "writePolicy": "write-back", "lineBytes": 64 }
          ]
        }
        """;

    public const string LabName = "(built-in two-node lab topology)";

    public const string LabJson = """
        {
          "name": "two-node-lab-cluster",
          "nodes": [
            { "id": 0, "cpus": 2, "memoryMiB": 64, "address": "127.0.0.1:7100" },
            { "id": 1, "cpus": 0, "memoryMiB": 64, "address": "127.0.0.1:7101", "initiator": 0 }
          ],
          "distances":     [[10, 40], [40, 10]],
          "latencyNs":     [[100, 2000], [2000, 100]],
          "bandwidthMBps": [[20480, 5120], [5120, 20480]],
          "caches": [
            { "node": 1, "sizeMiB": 16, "level": 1, "associativity": "direct", "writePolicy": "write-back", "lineBytes": 64 }
          ]
        }
        """;
}
