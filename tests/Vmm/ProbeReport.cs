using System.Text.Json;

namespace SsiHv.Tests.Vmm;

/// <summary>The `PROBE kind {json}` lines of a probe guest's console (guests/probe/README.md), by kind.</summary>
public sealed class ProbeReport
{
    readonly List<(string Kind, JsonElement Body)> lines = [];

    public ProbeReport(string console)
    {
        foreach (var raw in console.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (!line.StartsWith("PROBE ", StringComparison.Ordinal))
                continue;
            var space = line.IndexOf(' ', 6);
            if (space < 0)
                continue;
            lines.Add((line[6..space], JsonDocument.Parse(line[(space + 1)..]).RootElement.Clone()));
        }
    }

    public IEnumerable<JsonElement> All(string kind) => lines.Where(l => l.Kind == kind).Select(l => l.Body);

    public JsonElement Single(string kind)
    {
        var found = All(kind).ToList();
        return found.Count == 1 ? found[0] : throw new InvalidOperationException($"expected one PROBE {kind} line, found {found.Count}");
    }

    public static List<ulong> Numbers(JsonElement array) => array.EnumerateArray().Select(e => e.GetUInt64()).ToList();
}
