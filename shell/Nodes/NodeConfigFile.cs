using System.Text.Json;
using SsiHv.Core.Cluster;
using SsiHv.Core.Input;
using SsiHv.Shell.Input;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The node configuration file (docs/node-host.md): `ssihv node --config` reads it and validates it with the
/// core's rules, every problem one line "FILE: field: rule" a person can act on; `ssihv up` writes one per node
/// it plans. Both ends of the format live here so their field names cannot drift apart.
/// </summary>
public static class NodeConfigFile
{
    public static bool TryLoad(string path, out NodeConfig.NodeConfig config, out IReadOnlyList<string> problems)
    {
        config = null!;
        if (!InputFiles.TryRead(path, InputFile.InputKind.Document, out var bytes, out var unreadable))
        {
            problems = [unreadable];
            return false;
        }
        return TryParse(path, bytes, out config, out problems);
    }

    /// As <see cref="TryLoad"/> for a file already read; `path` names it in the problems.
    public static bool TryParse(string path, byte[] bytes, out NodeConfig.NodeConfig config, out IReadOnlyList<string> problems)
    {
        config = null!;
        var document = JsonInput.Parse(bytes, NodeConfigJsonContext.Default.NodeConfigDocument, out var problem);
        if (document is null)
        {
            problems = [$"{path}: {problem}"];
            return false;
        }

        var validated = NodeConfig.validate(ToRaw(document));
        if (validated.IsError)
        {
            problems = validated.ErrorValue.Select(e => $"{path}: {e.Field}: {e.Rule}").ToList();
            return false;
        }
        config = validated.ResultValue;
        problems = [];
        return true;
    }

    /// Writes one planned node's configuration, as the node host reads it back.
    public static void Write(string path, ClusterPlan.NodeConfig node)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteNumber("id", node.Id.Value);
        json.WriteString("transport", node.Transport.ToString());
        json.WriteString("http", node.Http.ToString());
        json.WriteString("secret", node.Secret);
        json.WriteString("apiToken", node.ApiToken);
        json.WriteNumber("cpus", node.Cpus);
        json.WriteNumber("memoryMiB", node.MemoryMiB);
        if (node.Initiator is { } initiator)
            json.WriteNumber("initiator", initiator.Value.Value);
        if (node.Boot)
            json.WriteBoolean("boot", true);
        if (node.Join is { } join)
            json.WriteString("join", join.Value);
        if (node.Topology is { } topology)
            json.WriteString("topology", topology.Value);
        if (node.MemoryBudgetMiB is { } budget)
            json.WriteNumber("memoryBudgetMiB", budget.Value);
        if (node.ImageDirectory is { } images)
            json.WriteString("imageDirectory", images.Value);
        json.WriteNumber("storeMiB", node.StoreMiB);
        if (node.TimeoutScale != 1)
            json.WriteNumber("timeoutScale", node.TimeoutScale);
        json.WriteEndObject();
    }

    static NodeConfig.RawNodeConfig ToRaw(NodeConfigDocument d) =>
        new(Option(d.Id), Option(d.Transport), Option(d.Http), Option(d.Secret), Option(d.ApiToken), Option(d.Cpus),
            Option(d.MemoryMiB), Option(d.Initiator), Option(d.Boot), Option(d.Join), Option(d.Topology),
            Option(d.MemoryBudgetMiB), Option(d.ReadAheadPages), Option(d.StoreMiB), Option(d.TimeoutScale), Option(d.ImageDirectory),
            Option(d.MemberRetentionSeconds));
}
