using System.Text.Json;
using SsiHv.Core.Cluster;

namespace SsiHv.Shell.Cluster;

/// <summary>Writes one node configuration as the JSON file `ssihv node --config` reads (docs/node-host.md).</summary>
public static class NodeConfigFile
{
    public static void Write(string path, ClusterPlan.NodeConfig node)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteNumber("id", node.Id);
        json.WriteString("transport", node.Transport.ToString());
        json.WriteString("http", node.Http.ToString());
        json.WriteString("secret", node.Secret);
        json.WriteString("apiToken", node.ApiToken);
        json.WriteNumber("cpus", node.Cpus);
        json.WriteNumber("memoryMiB", node.MemoryMiB);
        if (node.Initiator is { } initiator)
            json.WriteNumber("initiator", initiator.Value);
        if (node.Boot)
            json.WriteBoolean("boot", true);
        if (node.Join is { } join)
            json.WriteString("join", join.Value);
        if (node.Topology is { } topology)
            json.WriteString("topology", topology.Value);
        if (node.MemoryBudgetMiB is { } budget)
            json.WriteNumber("memoryBudgetMiB", budget.Value);
        json.WriteNumber("storeMiB", node.StoreMiB);
        if (node.TimeoutScale != 1)
            json.WriteNumber("timeoutScale", node.TimeoutScale);
        json.WriteEndObject();
    }
}
