using System.Globalization;
using System.Text;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The topology <c>ssihv bench acpi</c> builds tables for, as a topology file's JSON (so it takes the path every
/// topology file takes, TopologyFile → Validation): `nodes` nodes of `cpusPerNode` CPUs and 1 GiB each, every node
/// an initiator and a target, and a latency and a bandwidth for every (initiator, target) pair, so the HMAT holds
/// an entry for each. Distances grow with how far apart two node ids are, within the SLIT's 20..254.
/// </summary>
public static class AcpiBenchTopology
{
    const int LocalLatencyNs = 100, RemoteLatencyNs = 200, LatencyNsPerHop = 10;
    const int LocalBandwidthMBps = 20480, RemoteBandwidthMBps = 5120;
    const int MaxExtraDistance = 234;

    public static byte[] Json(int nodes, int cpusPerNode)
    {
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $"{{\"name\":\"bench-acpi-{nodes}x{cpusPerNode}\",\"nodes\":[");
        for (var node = 0; node < nodes; node++)
            json.Append(CultureInfo.InvariantCulture, $"{(node == 0 ? "" : ",")}{{\"id\":{node},\"cpus\":{cpusPerNode},\"memoryMiB\":1024}}");
        json.Append(']');
        Matrix(json, "distances", nodes, (i, j) => i == j ? 10 : 20 + Math.Min(Math.Abs(i - j), MaxExtraDistance));
        Matrix(json, "latencyNs", nodes, (i, j) => i == j ? LocalLatencyNs : RemoteLatencyNs + LatencyNsPerHop * Math.Abs(i - j));
        Matrix(json, "bandwidthMBps", nodes, (i, j) => i == j ? LocalBandwidthMBps : RemoteBandwidthMBps);
        json.Append('}');
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    static void Matrix(StringBuilder json, string field, int nodes, Func<int, int, int> entry)
    {
        json.Append(CultureInfo.InvariantCulture, $",\"{field}\":[");
        for (var i = 0; i < nodes; i++)
        {
            json.Append(i == 0 ? "[" : ",[");
            for (var j = 0; j < nodes; j++)
                json.Append(CultureInfo.InvariantCulture, $"{(j == 0 ? "" : ",")}{entry(i, j)}");
            json.Append(']');
        }
        json.Append(']');
    }
}
