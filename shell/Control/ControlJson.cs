using System.Text.Json;
using System.Text.Json.Serialization;
using SsiHv.Core.Vm;
using SsiHv.Shell.Topology;

namespace SsiHv.Shell.Control;

// The JSON shapes of docs/node-host.md, camelCase. Request bodies have nullable members so that a missing
// field is reported by name ("memoryMiB: required") rather than defaulted; replies are records written as is.

public sealed class JoinRequest
{
    public int? Id { get; set; }
    public int? Cpus { get; set; }
    public long? MemoryMiB { get; set; }
    public string? Address { get; set; }
    public int? Initiator { get; set; }
}

public sealed class VmStartRequest
{
    public string? Guest { get; set; }
    public string? Kernel { get; set; }
    public string? Initrd { get; set; }
    public string? Append { get; set; }
    public double? TimeoutSeconds { get; set; }

    /// The body that VmRequest.parse reads back as this request: what a client sends.
    public static VmStartRequest Of(VmRequest request)
    {
        var fields = GuestModule.fields(request.Guest);
        return new VmStartRequest
        {
            Guest = fields.Guest?.Value, Kernel = fields.Kernel?.Value, Initrd = fields.Initrd?.Value, Append = fields.Append?.Value,
            TimeoutSeconds = request.Timeout.TotalSeconds,
        };
    }
}

public sealed record HealthReply(string Status, int Node);

public sealed record NodeReply(int Id, int Cpus, long MemoryMiB, string Transport, string Http, bool Boot, long PagesStored);

public sealed record MemberReply(int Id, int Cpus, long MemoryMiB, string Address, int? Initiator, string State);

public sealed record VmReply(string State, string? Reason, int? ExitCode);

public sealed record ClusterReply(int BootNode, IReadOnlyList<MemberReply> Members, VmReply Vm);

public sealed record NodePagesReply(int Id, long PagesHomed, long PagesStored, long PagesResident, long PagesRemote);

public sealed record FaultsReply(long Read, long Write, long WriteProtect, long ZeroFills, long Fetches, long WriteBacks, long Evictions);

public sealed record LatencyReply(double P50, double P99);

public sealed record PeerReply(int Node, long BytesSent, long BytesReceived, string Fetches);

public sealed record PagesReply(
    IReadOnlyList<NodePagesReply> Nodes, FaultsReply Faults, LatencyReply RemoteFaultLatencyMicroseconds, IReadOnlyList<PeerReply> Peers);

/// The RFC 9457 problem document every error is.
public sealed record ProblemReply(string Type, string Title, int Status, string Detail);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(JoinRequest))]
[JsonSerializable(typeof(VmStartRequest))]
[JsonSerializable(typeof(HealthReply))]
[JsonSerializable(typeof(NodeReply))]
[JsonSerializable(typeof(MemberReply))]
[JsonSerializable(typeof(VmReply))]
[JsonSerializable(typeof(ClusterReply))]
[JsonSerializable(typeof(PagesReply))]
[JsonSerializable(typeof(ProblemReply))]
public sealed partial class ControlJsonContext : JsonSerializerContext;

/// <summary>GET /v1/topology writes the topology-file format; absent optional fields are left out, as a person would.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(TopologyDocument))]
public sealed partial class TopologyReplyJsonContext : JsonSerializerContext;
