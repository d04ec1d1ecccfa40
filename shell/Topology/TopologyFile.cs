using SsiHv.Core.Input;
using SsiHv.Core.Topology;
using SsiHv.Shell.Input;

namespace SsiHv.Shell.Topology;

/// <summary>
/// Reads a topology file (docs/design.md §4.2) and validates it with the core's rules. Every problem comes back as a
/// line that names the file, the field path and what was expected there, ready to show a user.
/// </summary>
public static class TopologyFile
{
    public static bool TryLoad(
        string path, out Core.Topology.Topology topology, out IReadOnlyList<string> problems)
    {
        topology = null!;
        problems = [];
        if (!InputFiles.TryRead(path, InputFile.InputKind.Document, out var bytes, out var unreadable))
        {
            problems = [unreadable];
            return false;
        }
        return TryParse(path, bytes, out topology, out problems);
    }

    /// As <see cref="TryLoad"/> for a file already read; `path` names it in the problems.
    public static bool TryParse(
        string path, byte[] bytes, out Core.Topology.Topology topology, out IReadOnlyList<string> problems)
    {
        topology = null!;
        problems = [];
        var document = JsonInput.Parse(bytes, TopologyJsonContext.Default.TopologyDocument, out var problem);
        if (document is null)
        {
            problems = [$"{path}: {problem}"];
            return false;
        }

        var mappingErrors = new List<TopologyError>();
        var spec = TopologySpecMapping.ToSpec(document, mappingErrors);
        // A dropped null node would shift every index the validator reports, so stop at mapping errors.
        if (mappingErrors.Count > 0)
        {
            problems = Lines(path, mappingErrors);
            return false;
        }
        var validated = Validation.validate(spec);
        if (validated.IsError)
        {
            problems = Lines(path, validated.ErrorValue);
            return false;
        }
        topology = validated.ResultValue;
        return true;
    }

    static List<string> Lines(string path, IEnumerable<TopologyError> errors) =>
        errors.Select(e => $"{path}: {e.Path}: {e.Message}").ToList();
}
