using System.Text.Json;
using System.Text.Json.Serialization;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The node configuration file of docs/node-host.md exactly as written. Every member is nullable: a missing
/// field becomes None in the core's RawNodeConfig and the core's validation reports it by name.
/// </summary>
public sealed class NodeConfigDocument
{
    public int? Id { get; set; }
    public string? Transport { get; set; }
    public string? Http { get; set; }
    public string? Secret { get; set; }
    public string? ApiToken { get; set; }
    public int? Cpus { get; set; }
    public long? MemoryMiB { get; set; }
    public int? Initiator { get; set; }
    public bool? Boot { get; set; }
    public string? Join { get; set; }
    public string? Topology { get; set; }
    public long? MemoryBudgetMiB { get; set; }
    public int? ReadAheadPages { get; set; }
    public long? StoreMiB { get; set; }
    public int? TimeoutScale { get; set; }
    public string? ImageDirectory { get; set; }
    public int? MemberRetentionSeconds { get; set; }
}

/// <summary>Source-generated reader; comments and trailing commas accepted (people edit these files by hand).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(NodeConfigDocument))]
public sealed partial class NodeConfigJsonContext : JsonSerializerContext;
