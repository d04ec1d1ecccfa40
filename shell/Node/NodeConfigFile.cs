using System.Text.Json;
using SsiHv.Core.Cluster;
using SsiHv.Shell.Topology;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// Reads a node configuration file and validates it with the core's rules (docs/node-host.md). Every problem is
/// one line "FILE: field: rule" a person can act on.
/// </summary>
public static class NodeConfigFile
{
    public static bool TryLoad(string path, out NodeConfig.NodeConfig config, out IReadOnlyList<string> problems)
    {
        config = null!;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            problems = [$"{path}: cannot read: {e.Message}"];
            return false;
        }

        NodeConfigDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, NodeConfigJsonContext.Default.NodeConfigDocument);
        }
        catch (JsonException e)
        {
            problems = [$"{path}: {JsonErrorDescription.Describe(e, bytes, NodeConfigJsonContext.Default.NodeConfigDocument)}"];
            return false;
        }
        if (document is null)
        {
            problems = [$"{path}: (top level): expected an object, found null"];
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

    static NodeConfig.RawNodeConfig ToRaw(NodeConfigDocument d) =>
        new(Option(d.Id), Option(d.Transport), Option(d.Http), Option(d.Secret), Option(d.ApiToken), Option(d.Cpus),
            Option(d.MemoryMiB), Option(d.Initiator), Option(d.Boot), Option(d.Join), Option(d.Topology),
            Option(d.MemoryBudgetMiB), Option(d.ReadAheadPages), Option(d.StoreMiB), Option(d.TimeoutScale));
}
