using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Prometheus;
using SsiHv.Core.Cluster;
using SsiHv.Core.Input;
using SsiHv.Core.Topology;
using SsiHv.Core.Vm;
using SsiHv.Shell.Input;
using SsiHv.Shell.Topology;
using static SsiHv.Core.Cluster.Membership;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Control;

/// <summary>What the control API says about the node it runs on (GET /v1/node) and where its boot node is.</summary>
public sealed record ControlIdentity(int Id, int Cpus, long MemoryMiB, string Transport, bool Boot, string? BootUrl, string ApiToken)
{
    /// The resolved http address, known once Kestrel listens.
    public string Http { get; set; } = "";

    /// The boot node's imageDirectory: the files POST /v1/vm may name; null: none.
    public string? ImageDirectory { get; init; }
}

/// <summary>
/// The HTTP control API of docs/node-host.md as ASP.NET Core minimal API endpoints. POST endpoints need the
/// bearer token; bodies are read with the source-generated <see cref="ControlJsonContext"/> and checked for their
/// shape here (required fields, types), while their values are the core's to judge (a join's by
/// <c>NodeInfo.validate</c>, inside the membership); cluster and VM endpoints go to the
/// <see cref="ClusterController"/> on the boot node and answer 404 naming the boot node on a memory node.
/// </summary>
public static class ControlApi
{
    const int MaximumBodyBytes = 64 * 1024;

    public static void Map(IEndpointRouteBuilder app, ControlIdentity node, ClusterController? controller, INodeStatus status, NodeMetrics metrics)
    {
        var token = new BearerToken(node.ApiToken);
        var images = new ImageDirectory(node.ImageDirectory);

        app.MapGet("/v1/health", () => Results.Json(new HealthReply("ok", node.Id), ControlJsonContext.Default.HealthReply));

        app.MapGet("/v1/node", () => Results.Json(
            new NodeReply(node.Id, node.Cpus, node.MemoryMiB, node.Transport, node.Http, node.Boot, status.PagesStored),
            ControlJsonContext.Default.NodeReply));

        app.MapGet("/v1/cluster", () => controller is null
            ? NotBoot(node, "the cluster")
            : Results.Json(ClusterOf(controller.View), ControlJsonContext.Default.ClusterReply));

        app.MapPost("/v1/cluster/join", async (HttpContext context) =>
        {
            if (token.Refusal(context) is { } refused) return refused;
            if (controller is null) return NotBoot(node, "joins");
            var (bytes, unreadable) = await ReadBody(context);
            if (unreadable is not null) return unreadable;
            var (info, problem) = JoinOf(bytes!);
            if (problem is not null) return Problems.BadRequest(problem);
            return MemberResult(await controller.JoinAsync(info!), info!.Id.Value);
        });

        app.MapPost("/v1/cluster/nodes/{id}/drain", async (HttpContext context, string id) =>
        {
            if (token.Refusal(context) is { } refused) return refused;
            if (controller is null) return NotBoot(node, "drains");
            if (NodeIdOf(id) is not { } nodeId) return BadNodeId(id);
            return MemberResult(await controller.DrainAsync(nodeId), nodeId);
        });

        app.MapPost("/v1/cluster/nodes/{id}/leave", async (HttpContext context, string id) =>
        {
            if (token.Refusal(context) is { } refused) return refused;
            if (controller is null) return NotBoot(node, "leaves");
            if (NodeIdOf(id) is not { } nodeId) return BadNodeId(id);
            return MemberResult(await controller.LeaveAsync(nodeId), nodeId);
        });

        app.MapGet("/v1/topology", () =>
        {
            if (controller is null) return NotBoot(node, "the VM's topology");
            return controller.View.Topology is { } topology
                ? Results.Json(TopologyReply(topology), TopologyReplyJsonContext.Default.TopologyDocument)
                : Problems.NotFound("no VM has been started on this cluster yet: POST /v1/vm first");
        });

        app.MapGet("/v1/acpi/{signature}", (string signature) =>
        {
            if (controller is null) return NotBoot(node, "the VM's ACPI tables");
            var view = controller.View;
            if (view.Topology is null)
                return Problems.NotFound("no VM has been started on this cluster yet: POST /v1/vm first");
            return view.AcpiTables.TryGetValue(signature, out var bytes)
                ? Results.Bytes(bytes, "application/octet-stream")
                : Problems.NotFound($"the VM has no table '{signature}'; it has {string.Join(", ", view.AcpiTables.Keys.Order(StringComparer.Ordinal))}");
        });

        app.MapPost("/v1/vm", async (HttpContext context) =>
        {
            if (token.Refusal(context) is { } refused) return refused;
            if (controller is null) return NotBoot(node, "the VM");
            var (bytes, unreadable) = await ReadBody(context);
            if (unreadable is not null) return unreadable;
            var (request, problem) = VmStartOf(bytes!);
            if (problem is not null) return Problems.BadRequest(problem);
            var admitted = images.Admit(request!);
            if (admitted.IsError) return ImageRefused(admitted.ErrorValue);
            return VmResult(await controller.StartVmAsync(admitted.ResultValue));
        });

        app.MapGet("/v1/vm", () => controller is null
            ? NotBoot(node, "the VM")
            : Results.Json(VmOf(controller.View), ControlJsonContext.Default.VmReply));

        app.MapPost("/v1/vm/stop", async (HttpContext context) =>
        {
            if (token.Refusal(context) is { } refused) return refused;
            if (controller is null) return NotBoot(node, "the VM");
            return VmResult(await controller.StopVmAsync("stopped through POST /v1/vm/stop"));
        });

        app.MapGet("/v1/pages", () => Results.Json(NodeMetrics.Pages(status), ControlJsonContext.Default.PagesReply));

        app.MapMetrics("/metrics", metrics.Registry);
    }

    static IResult NotBoot(ControlIdentity node, string what) =>
        Problems.NotFound($"node {node.Id} is a memory node; {what} is on the boot node at {node.BootUrl}");

    /// A join's body as the node it describes, or the problem (400) naming what is wrong with it.
    public static (NodeInfo? Info, string? Problem) JoinOf(byte[] bytes)
    {
        var (body, problem) = Parse(bytes, ControlJsonContext.Default.JoinRequest);
        if (problem is not null) return (null, problem);
        if (MissingJoinField(body!) is { } missing) return (null, missing);
        return (new NodeInfo(NodeId.NewNodeId(body!.Id!.Value), body.Cpus!.Value, body.MemoryMiB!.Value, body.Address!,
            Option(body.Initiator is { } initiator ? NodeId.NewNodeId(initiator) : (NodeId?)null)), null);
    }

    /// A VM start's body as the request, or the problem (400) naming what is wrong with it.
    public static (VmRequest? Request, string? Problem) VmStartOf(byte[] bytes)
    {
        var (body, problem) = Parse(bytes, ControlJsonContext.Default.VmStartRequest);
        return problem is not null ? (null, problem) : VmRequestOf(body!);
    }

    static (T? Body, string? Problem) Parse<T>(byte[] bytes, JsonTypeInfo<T> type) where T : class
    {
        if (bytes.Length == 0)
            return (null, "expected a JSON object in the body, found an empty body");
        var body = JsonInput.Parse(bytes, type, out var problem);
        return (body, problem);
    }

    /// The body's bytes within the size limit, or the problem (413, 415) refusing them.
    static async Task<(byte[]? Body, IResult? Problem)> ReadBody(HttpContext context)
    {
        if (context.Request.ContentType is { } contentType && !IsJson(contentType))
            return (null, Problems.Of(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"Content-Type: expected application/json, found {contentType}"));
        if (context.Request.ContentLength > MaximumBodyBytes)
            return (null, TooLarge());
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaximumBodyBytes)
                return (null, TooLarge());
            buffer.Write(chunk, 0, read);
        }
        return (buffer.ToArray(), null);
    }

    static IResult TooLarge() =>
        Problems.Of(StatusCodes.Status413PayloadTooLarge, "Body too large", $"the body is larger than {MaximumBodyBytes} bytes");

    /// application/json with or without parameters, or a JSON-based type such as application/merge-patch+json.
    static bool IsJson(string contentType)
    {
        var mediaType = contentType.Split(';')[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
               || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    static string? MissingJoinField(JoinRequest body) =>
        body.Id is null ? "id: required"
        : body.Cpus is null ? "cpus: required"
        : body.MemoryMiB is null ? "memoryMiB: required"
        : body.Address is null ? "address: required (the node's transport address, IPv4:port)"
        : null;

    static int? NodeIdOf(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    static IResult BadNodeId(string text) =>
        Problems.BadRequest($"id: expected a node id (an integer, 0 or more) in the path, found '{text}'");

    static (VmRequest? Request, string? Problem) VmRequestOf(VmStartRequest body)
    {
        var request = VmRequestModule.parse(
            new GuestFields(Option(body.Guest), Option(body.Kernel), Option(body.Initrd), Option(body.Append)), Option(body.TimeoutSeconds));
        return request.IsOk ? (request.ResultValue, null) : (null, VmRequestErrorModule.text(request.ErrorValue));
    }

    static IResult ImageRefused(ImagePath.ImagePathRefusal refusal) =>
        ImagePath.ImagePathRefusalModule.kind(refusal).IsForbidden
            ? Problems.Forbidden(ImagePath.ImagePathRefusalModule.text(refusal))
            : Problems.BadRequest(ImagePath.ImagePathRefusalModule.text(refusal));

    static IResult MemberResult(StepOutcome outcome, int id)
    {
        // A node whose contribution breaks a rule is a bad request whatever the cluster's state; every other
        // refusal is the membership's, given its state now.
        if (outcome.Refusal is MembershipError.InvalidNode invalid)
            return Problems.BadRequest(MembershipErrorModule.text(invalid));
        if (outcome.Refusal is { } refusal)
            return Problems.Conflict(MembershipErrorModule.text(refusal));
        var member = outcome.View.Cluster.Members[NodeId.NewNodeId(id)];
        return Results.Json(MemberOf(member), ControlJsonContext.Default.MemberReply, statusCode: StatusCodes.Status202Accepted);
    }

    static IResult VmResult(StepOutcome outcome) =>
        outcome.Refusal is { } refusal
            ? Problems.Conflict(MembershipErrorModule.text(refusal))
            : Results.Json(VmOf(outcome.View), ControlJsonContext.Default.VmReply, statusCode: StatusCodes.Status202Accepted);

    public static MemberReply MemberOf(Member member) =>
        new(member.Info.Id.Value, member.Info.Cpus, member.Info.MemoryMiB, member.Info.Address,
            member.Info.Initiator is { } i ? i.Value.Value : null, StateName(member.State));

    static string StateName(MemberState state) =>
        state.IsJoining ? "joining" : state.IsActive ? "active" : state.IsDraining ? "draining" : state.IsLeft ? "left" : "lost";

    public static ClusterReply ClusterOf(ClusterView view) =>
        new(view.Cluster.BootNode.Value, view.Cluster.Members.Values.Select(MemberOf).ToList(), VmOf(view));

    public static VmReply VmOf(ClusterView view) => view.Cluster.Vm switch
    {
        VmState.Stopped stopped => new VmReply("stopped", stopped.reason, stopped.exitCode),
        { IsStarting: true } => new VmReply("starting", null, null),
        { IsRunning: true } => new VmReply("running", null, null),
        _ => new VmReply("notStarted", null, null),
    };

    static TopologyDocument TopologyReply(Core.Topology.Topology topology)
    {
        var spec = ClusterTopology.specOf(topology);
        static List<List<long>?>? Matrix(Microsoft.FSharp.Core.FSharpOption<Microsoft.FSharp.Collections.FSharpList<Microsoft.FSharp.Collections.FSharpList<long>>>? m) =>
            m?.Value.Select(row => (List<long>?)row.ToList()).ToList();
        return new TopologyDocument
        {
            Name = spec.Name?.Value,
            Nodes = spec.Nodes?.Value.Select(n => (NodeDocument?)new NodeDocument
            {
                Id = n.Id?.Value, Cpus = n.Cpus?.Value, MemoryMiB = n.MemoryMiB?.Value, Address = n.Address?.Value,
                Initiator = n.Initiator?.Value,
            }).ToList(),
            Distances = Matrix(spec.Distances),
            LatencyNs = Matrix(spec.LatencyNs),
            BandwidthMBps = Matrix(spec.BandwidthMBps),
            Caches = spec.Caches?.Value.Select(c => (CacheDocument?)new CacheDocument
            {
                Node = c.Node?.Value, SizeMiB = c.SizeMiB?.Value, Level = c.Level?.Value, Associativity = c.Associativity?.Value,
                WritePolicy = c.WritePolicy?.Value, LineBytes = c.LineBytes?.Value,
            }).ToList(),
            Placement = spec.Placement?.Value,
        };
    }
}
