namespace SsiHv.Shell.Up;

/// <summary>
/// The cluster `ssihv up` forms when no --topology is given: examples/two-node.json's shape (a CPU node and a
/// memory-only node with its SLIT, HMAT and memory-side cache) at a quarter and half of its memory, so that
/// the probe guest's memtest of every page, paged over the transport, ends in a minute or two on a small
/// machine. Built in so that `up` works from any directory. Under `up --lab` every page is written at TCG speed
/// through a nested KVM, so the lab's default is the same shape at 64 MiB a node; a Linux guest (--kernel) needs
/// more than 64 MiB on the node its kernel is loaded into, so with a kernel it is 128 MiB a node.
/// </summary>
public static class DefaultTopology
{
    public const string Name = "(built-in two-node topology)";
    public const string LabName = "(built-in two-node lab topology)";
    public const string LabLinuxName = "(built-in two-node lab topology for Linux)";

    public static string Json { get; } = Shaped("two-node-cluster", cpuNodeMiB: 256, memoryNodeMiB: 512, cacheMiB: 64);

    public static string LabJson { get; } = Shaped("two-node-lab-cluster", cpuNodeMiB: 64, memoryNodeMiB: 64, cacheMiB: 16);

    public static string LabLinuxJson { get; } = Shaped("two-node-lab-linux-cluster", cpuNodeMiB: 128, memoryNodeMiB: 128, cacheMiB: 16);

    static string Shaped(string name, int cpuNodeMiB, int memoryNodeMiB, int cacheMiB) => $$"""
        {
          "name": "{{name}}",
          "nodes": [
            { "id": 0, "cpus": 2, "memoryMiB": {{cpuNodeMiB}}, "address": "127.0.0.1:7100" },
            { "id": 1, "cpus": 0, "memoryMiB": {{memoryNodeMiB}}, "address": "127.0.0.1:7101", "initiator": 0 }
          ],
          "distances":     [[10, 40], [40, 10]],
          "latencyNs":     [[100, 2000], [2000, 100]],
          "bandwidthMBps": [[20480, 5120], [5120, 20480]],
          "caches": [
            { "node": 1, "sizeMiB": {{cacheMiB}}, "level": 1, "associativity": "direct", "writePolicy": "write-back", "lineBytes": 64 }
          ]
        }
        """;
}
