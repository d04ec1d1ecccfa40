using System.Text.Json;
using System.Text.Json.Serialization;

namespace SsiHv.Shell.Up;

// The HTTP control API's replies as docs/node-host.md defines them (camelCase JSON). Only the fields `ssihv up`
// reads are declared; unknown ones are skipped so that a node host may add fields. The one request body with
// fields, POST /v1/vm's, is the node host's own VmStartRequest, so that what is sent is what is read.

public sealed record HealthReply(string Status, int Node);

public sealed record MemberReply(int Id, int Cpus, long MemoryMiB, string? Address, string State);

public sealed record ClusterVmReply(string State, string? Reason);

public sealed record ClusterReply(int BootNode, IReadOnlyList<MemberReply> Members, ClusterVmReply? Vm);

public sealed record VmReply(string State, string? Reason, int? ExitCode);

public sealed record NodePagesReply(int Id, long PagesHomed, long PagesStored, long PagesResident);

public sealed record LatencyReply(double? P50, double? P99);

public sealed record PeerTrafficReply(int Node, long BytesSent, long BytesReceived, string? Fetches);

public sealed record PagesReply(
    IReadOnlyList<NodePagesReply> Nodes, JsonElement? Faults, LatencyReply? RemoteFaultLatencyMicroseconds,
    IReadOnlyList<PeerTrafficReply>? Peers);

/// application/problem+json.
public sealed record ProblemReply(string? Title, int? Status, string? Detail);

/// <summary>Source-generated (reflection-free) serializer for the control API bodies.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(HealthReply))]
[JsonSerializable(typeof(ClusterReply))]
[JsonSerializable(typeof(VmReply))]
[JsonSerializable(typeof(PagesReply))]
[JsonSerializable(typeof(ProblemReply))]
public sealed partial class ClusterApiJsonContext : JsonSerializerContext;
