using SsiHv.Core.Cluster;
using SsiHv.Core.Input;
using SsiHv.Shell.Input;
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
            bytes = InputFiles.Read(path, InputFile.InputKind.Document);
        }
        catch (InputFileException e)
        {
            problems = [e.Message];
            return false;
        }
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

    static NodeConfig.RawNodeConfig ToRaw(NodeConfigDocument d) =>
        new(Option(d.Id), Option(d.Transport), Option(d.Http), Option(d.Secret), Option(d.ApiToken), Option(d.Cpus),
            Option(d.MemoryMiB), Option(d.Initiator), Option(d.Boot), Option(d.Join), Option(d.Topology),
            Option(d.MemoryBudgetMiB), Option(d.StoreMiB), Option(d.TimeoutScale));
}
