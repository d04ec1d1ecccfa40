using System.Text.Json;
using System.Text.Json.Serialization;

namespace SsiHv.Shell.Topology;

/// <summary>
/// Source-generated (reflection-free) reader for the topology file. Unknown members are skipped because users
/// may extend the format (docs/design.md §4.2); comments and trailing commas are accepted because people edit these
/// files by hand. A member given twice is rejected: which of the two values was meant cannot be guessed.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(TopologyDocument))]
public sealed partial class TopologyJsonContext : JsonSerializerContext;
