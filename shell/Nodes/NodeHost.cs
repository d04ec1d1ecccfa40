using System.Net;
using SsiHv.Core.Cluster;
using SsiHv.Shell.Control;

namespace SsiHv.Shell.Nodes;

/// <summary>How long a node host waits for its parts; tests shorten them.</summary>
public sealed record NodeHostTimeouts(ControlTimeouts Control, JoinClient.Retry Join)
{
    public static NodeHostTimeouts Default { get; } = new(ControlTimeouts.Default, JoinClient.Retry.Default);

    /// How often a memory node asks its boot node whether it is still a member (<see cref="RejoinLoop"/>).
    public TimeSpan MembershipCheck { get; init; } = TimeSpan.FromSeconds(2);

    /// Every wait `scale` times longer (the node config's timeoutScale, for emulated machines).
    public NodeHostTimeouts Scaled(int scale) => scale == 1 ? this : new(
        new ControlTimeouts(Control.Connect * scale, Control.StartVm * scale, Control.MovePages * scale, Control.StopVm * scale),
        Join with { Total = Join.Total * scale, MaximumDelay = Join.MaximumDelay * scale, AttemptTimeout = Join.AttemptTimeout * scale })
    {
        MembershipCheck = MembershipCheck * scale,
    };
}

/// <summary>
/// One node host (docs/node-host.md, "Inside a node host"): the HTTP control API on the config's http address,
/// on the boot node the <see cref="ClusterController"/> driving the membership through the given
/// <see cref="IClusterEffects"/>, on a memory node the join at start-up. The effects and the status come from
/// the caller, so the transport, page store and VM plug in without this class knowing them.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    readonly NodeConfig.NodeConfig config;
    readonly IClusterEffects effects;
    readonly INodeStatus status;
    readonly Action<string> log;
    readonly NodeHostTimeouts timeouts;
    readonly ClusterController? controller;
    ControlServer? server;
    /// The boot node this memory node joined, once the join was accepted: it is told when this node stops.
    string? joinedBootUrl;
    /// Joins again when the boot node loses this node; from the first accepted join on.
    RejoinLoop? rejoin;
    bool disposed;

    public NodeHost(
        NodeConfig.NodeConfig config, Core.Topology.Topology? template, IClusterEffects effects, INodeStatus status,
        Action<string> log, NodeHostTimeouts? timeouts = null)
    {
        this.config = config;
        this.effects = effects;
        this.status = status;
        this.log = log;
        this.timeouts = timeouts ?? NodeHostTimeouts.Default;
        if (NodeConfig.isBoot(config))
            controller = new ClusterController(NodeConfig.nodeInfo(config), template, effects, this.timeouts.Control,
                ((NodeConfig.NodeRole.BootNode)config.Role).Item.MemberRetention, log);
    }

    public int Id => config.Id.Value;

    /// The control API's address once started (the port resolved when the config said 0).
    public IPEndPoint HttpEndpoint => server?.Endpoint ?? throw new InvalidOperationException("the node host has not started");

    public Uri HttpUrl => new($"http://{HttpEndpoint}");

    /// The boot node's membership pipeline; null on a memory node.
    public ClusterController? Controller => controller;

    /// Starts the control API and, on a memory node, joins the boot node. Throws
    /// <see cref="JoinFailedException"/> naming the boot URL when the join fails within its bound, and
    /// IOException when the http address cannot be listened on.
    public async Task StartAsync(CancellationToken cancellation)
    {
        var bootUrl = config.Role is NodeConfig.NodeRole.MemoryNode member ? member.joinUrl : null;
        var identity = new ControlIdentity(config.Id.Value, config.Cpus, config.MemoryMiB, config.Transport.ToString(),
            controller is not null, bootUrl, config.ApiToken)
        {
            ImageDirectory = (config.Role as NodeConfig.NodeRole.BootNode)?.Item.ImageDirectory?.Value,
        };
        var listen = new IPEndPoint(IPAddress.Parse(config.Http.Address), config.Http.Port);
        server = await ControlServer.StartAsync(listen, identity, controller, status, new NodeMetrics(status, config.Id.Value), cancellation);
        log($"control API on http://{server.Endpoint} ({(controller is null ? $"memory node of {bootUrl}" : "boot node")}, transport {config.Transport})");
        if (bootUrl is null)
            return;
        var request = new JoinRequest
        {
            Id = config.Id.Value, Cpus = config.Cpus, MemoryMiB = config.MemoryMiB, Address = config.Transport.ToString(),
            Initiator = config.Initiator is { } initiator ? initiator.Value.Value : null,
        };
        await JoinClient.JoinAsync(bootUrl, config.ApiToken, request, timeouts.Join, log, cancellation);
        joinedBootUrl = bootUrl;
        rejoin = new RejoinLoop(bootUrl, config.ApiToken, request, timeouts.MembershipCheck, timeouts.Join.AttemptTimeout, log);
    }

    /// Stops the HTTP API first (no new requests), then the membership pipeline, then the effects.
    public async ValueTask DisposeAsync()
    {
        if (disposed)
            return;
        disposed = true;
        // Before the leave: a node that says goodbye must not join again behind its own back.
        if (rejoin is not null)
            await rejoin.DisposeAsync();
        // Before the transport goes: the boot node must not take this node for lost while it asks to leave.
        if (joinedBootUrl is not null)
            await LeaveClient.LeaveAsync(joinedBootUrl, config.ApiToken, config.Id.Value, timeouts.Join.AttemptTimeout, log);
        if (server is not null)
            await server.DisposeAsync();
        if (controller is not null)
            await controller.DisposeAsync();
        await effects.DisposeAsync();
        log("stopped");
    }
}
