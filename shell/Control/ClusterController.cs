using System.Threading.Channels;
using Microsoft.FSharp.Core;
using SsiHv.Core.Cluster;
using SsiHv.Core.Topology;
using SsiHv.Core.Vm;
using static SsiHv.Core.Cluster.Membership;
using static SsiHv.Core.Vm.VmLifecycle;

namespace SsiHv.Shell.Control;

/// <summary>How long the controller waits for each effect before it treats the effect as failed.</summary>
public sealed record ControlTimeouts(TimeSpan Connect, TimeSpan StartVm, TimeSpan MovePages, TimeSpan StopVm)
{
    public static ControlTimeouts Default { get; } =
        new(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(30));
}

/// <summary>What the boot node knows of its cluster and its VM at one instant; immutable, published after every step.</summary>
public sealed record ClusterView(VmLifecycle.Lifecycle Lifecycle)
{
    public Membership.Cluster Cluster => Lifecycle.Cluster;

    /// The VM's assembled topology; null before a VM was started and when its assembly failed.
    public Core.Topology.Topology? Topology => Lifecycle.Assembly?.Value.Topology;

    /// The VM's ACPI tables by signature, in any case.
    public IReadOnlyDictionary<string, byte[]> AcpiTables { get; } =
        (Lifecycle.Assembly?.Value.Tables ?? []).ToDictionary(t => t.Signature, t => t.Bytes, StringComparer.OrdinalIgnoreCase);
}

/// <summary>The reply to a request: the view right after its step, and the membership's refusal if it refused.</summary>
public sealed record StepOutcome(ClusterView View, MembershipError? Refusal);

/// <summary>
/// The boot node's control pipeline (docs/design.md §3.4): the one place that steps <see cref="VmLifecycle.step"/>,
/// and through it the membership. Requests from HTTP handlers and the reports of effects are queued on one
/// channel as lifecycle events and handled by one task, one event at a time, so the state is never shared
/// between threads; readers get the immutable <see cref="ClusterView"/> published after each step. Actions
/// become calls on <see cref="IClusterEffects"/>; awaited ones run beside the pipeline within the time the
/// action gives and come back as events.
/// </summary>
public sealed class ClusterController : IAsyncDisposable
{
    /// How often the membership is told the time, so departed members are pruned this soon after their retention.
    static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    /// An event, and the caller waiting for its outcome (none for the reports of effects).
    sealed record Request(LifecycleEvent Event, TaskCompletionSource<StepOutcome>? Reply);

    readonly Channel<Request> requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    readonly IClusterEffects effects;
    readonly ControlTimeouts timeouts;
    readonly Action<string> log;
    readonly CancellationTokenSource stopping = new();
    readonly Task loop;
    readonly Task ticks;
    readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    // Owned by the loop task only.
    VmLifecycle.Lifecycle lifecycle;
    readonly List<Task> running = [];
    bool disposed;
    // Written by the loop, read by anyone.
    ClusterView view;

    public ClusterController(
        NodeInfo bootNode, Core.Topology.Topology? template, IClusterEffects effects, ControlTimeouts timeouts, TimeSpan memberRetention,
        Action<string> log)
    {
        var created = VmLifecycle.create(bootNode,
            template is null ? null : FSharpOption<Core.Topology.Topology>.Some(template),
            new VmLimits(timeouts.StartVm, timeouts.StopVm), memberRetention);
        lifecycle = created.IsOk
            ? created.ResultValue
            : throw new ArgumentException(MembershipErrorModule.text(created.ErrorValue), nameof(bootNode));
        this.effects = effects;
        this.timeouts = timeouts;
        this.log = log;
        view = new ClusterView(lifecycle);
        effects.PeerLost += OnPeerLost;
        loop = Task.Run(RunAsync);
        ticks = Task.Run(TickAsync);
    }

    /// The membership's clock (docs/design.md §2.4: the core has none): monotonic time since this controller began.
    async Task TickAsync()
    {
        using var timer = new PeriodicTimer(TickInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
                Post(LifecycleEvent.NewTick(clock.Elapsed));
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    public ClusterView View => Volatile.Read(ref view);

    public Task<StepOutcome> JoinAsync(NodeInfo node) => Submit(LifecycleEvent.NewJoin(node));

    public Task<StepOutcome> DrainAsync(int node) => Submit(LifecycleEvent.NewDrain(NodeId.NewNodeId(node)));

    public Task<StepOutcome> LeaveAsync(int node) => Submit(LifecycleEvent.NewLeave(NodeId.NewNodeId(node)));

    public Task<StepOutcome> StartVmAsync(VmRequest request) => Submit(LifecycleEvent.NewStartVm(request));

    public Task<StepOutcome> StopVmAsync(string reason) => Submit(LifecycleEvent.NewStopVm(reason));

    Task<StepOutcome> Submit(LifecycleEvent lifecycleEvent)
    {
        var reply = new TaskCompletionSource<StepOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!requests.Writer.TryWrite(new Request(lifecycleEvent, reply)))
            reply.SetException(new ObjectDisposedException(nameof(ClusterController), "the node host is shutting down"));
        return reply.Task;
    }

    void Post(LifecycleEvent report) => requests.Writer.TryWrite(new Request(report, null));

    void OnPeerLost(int node, string reason)
    {
        log($"transport lost node {node}: {reason}");
        Post(LifecycleEvent.NewPeerLost(NodeId.NewNodeId(node)));
    }

    async Task RunAsync()
    {
        await foreach (var request in requests.Reader.ReadAllAsync())
        {
            try
            {
                var refusal = Apply(request.Event);
                request.Reply?.SetResult(new StepOutcome(View, refusal));
            }
            catch (Exception e) when (request.Reply is not null)
            {
                request.Reply.TrySetException(e);
            }
            catch (Exception e)
            {
                log($"internal error handling {Describe(request.Event)}: {e.Message}");
            }
            running.RemoveAll(t => t.IsCompleted);
        }
    }

    /// Steps the lifecycle with one event, performs the actions and publishes the new view.
    MembershipError? Apply(LifecycleEvent lifecycleEvent)
    {
        string? description = Describe(lifecycleEvent);
        var before = lifecycle.Cluster.Members;
        var (next, actions) = VmLifecycle.step(lifecycle, lifecycleEvent);
        if (lifecycleEvent.IsTick)
            description = Pruned(before, next.Cluster.Members);
        lifecycle = next;
        MembershipError? refusal = null;
        foreach (var action in actions)
        {
            if (action is LifecycleAction.Reject reject)
                refusal = reject.Item;
            else
                Perform(action);
        }
        if (description is not null)
            log(refusal is null ? description : $"{description}: refused: {MembershipErrorModule.text(refusal)}");
        Volatile.Write(ref view, new ClusterView(lifecycle));
        return refusal;
    }

    void Perform(LifecycleAction action)
    {
        switch (action)
        {
            case LifecycleAction.Connect connect:
                var node = connect.Item;
                Background($"connect to node {node.Id} at {node.Address}", timeouts.Connect,
                    token => effects.ConnectAsync(node, token),
                    LifecycleEvent.NewConnected(node.Id),
                    LifecycleEvent.NewPeerLost(node.Id));
                break;
            case LifecycleAction.Disconnect disconnect:
                effects.Disconnect(disconnect.Item.Value);
                break;
            case LifecycleAction.MovePages move:
                var (source, target) = (move.source, move.target);
                Background($"move the pages of node {source} to node {target}", timeouts.MovePages,
                    token => effects.MovePagesAsync(source.Value, target.Value, token),
                    LifecycleEvent.NewDrainComplete(source),
                    // Its pages are neither all here nor all there: the VM cannot go on trusting them.
                    LifecycleEvent.NewPeerLost(source));
                break;
            case LifecycleAction.Launch launch:
                Launch(launch.Item);
                break;
            case LifecycleAction.Stop stop:
                effects.StopVm(stop.reason);
                WatchStop(stop.generation, stop.reason, stop.confirmWithin);
                break;
        }
    }

    /// Starts the VM and follows it to its end, each within the time the launch gives.
    void Launch(VmLifecycle.VmLaunch launch)
    {
        var cancellation = stopping.Token;
        running.Add(Task.Run(async () =>
        {
            RunningVm started;
            try
            {
                started = await WithTimeout(token => effects.StartVmAsync(launch.Topology, launch.Request, token), launch.StartWithin, cancellation);
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                Post(LifecycleEvent.NewVmStartFailed(launch.Generation, Reason(e, launch.StartWithin)));
                return;
            }
            Post(LifecycleEvent.NewVmRunning(launch.Generation));
            try
            {
                Post(LifecycleEvent.NewVmEnded(launch.Generation, await started.Ended.WaitAsync(launch.EndWithin, cancellation)));
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                Post(LifecycleEvent.NewVmEndUnreported(launch.Generation, Reason(e, launch.EndWithin)));
            }
        }, CancellationToken.None));
    }

    /// Reports a stop the VM has not confirmed in time; the lifecycle ignores it when the VM has ended since.
    void WatchStop(int generation, string reason, TimeSpan confirmWithin)
    {
        var cancellation = stopping.Token;
        running.Add(Task.Run(async () =>
        {
            await Task.Delay(confirmWithin, cancellation).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!cancellation.IsCancellationRequested)
                Post(LifecycleEvent.NewVmStopUnconfirmed(generation, reason));
        }, CancellationToken.None));
    }

    /// Runs an awaited effect beside the pipeline; its success or failure comes back as an event.
    void Background(string what, TimeSpan timeout, Func<CancellationToken, Task> effect, LifecycleEvent succeeded, LifecycleEvent failed)
    {
        var cancellation = stopping.Token;
        running.Add(Task.Run(async () =>
        {
            try
            {
                await WithTimeout(async token => { await effect(token); return true; }, timeout, cancellation);
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                log($"{what} failed: {Reason(e, timeout)}");
                Post(failed);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Post(succeeded);
        }, CancellationToken.None));
    }

    /// The effect gets a token cancelled at the timeout, so it stops working when we stop waiting; an effect
    /// that ignores its token is still abandoned at the timeout.
    static async Task<T> WithTimeout<T>(Func<CancellationToken, Task<T>> effect, TimeSpan timeout, CancellationToken cancellation)
    {
        using var limited = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limited.CancelAfter(timeout);
        try
        {
            return await effect(limited.Token).WaitAsync(timeout, cancellation);
        }
        catch (OperationCanceledException) when (limited.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
            throw new TimeoutException();
        }
    }

    static string Reason(Exception e, TimeSpan timeout) =>
        e is TimeoutException ? $"no answer within {timeout.TotalSeconds} s" : e.Message.ReplaceLineEndings(" ");

    /// A tick is said only when it pruned someone: one a second would drown every other line.
    string? Pruned(Microsoft.FSharp.Collections.FSharpMap<NodeId, Member> before, Microsoft.FSharp.Collections.FSharpMap<NodeId, Member> after)
    {
        var pruned = before.Keys.Where(id => !after.ContainsKey(id)).Select(id => $"{id} ({StateName(before[id].State)})").ToList();
        return pruned.Count == 0 ? null
            : $"pruned node(s) {string.Join(", ", pruned)}: departed more than {lifecycle.Cluster.Retention.TotalSeconds} s ago";
    }

    static string StateName(MemberState state) => state.IsLeft ? "left" : "lost";

    string Describe(LifecycleEvent e) => VmLifecycle.endOf(lifecycle, e) is { } end
        ? $"VM {end.Value.Generation} ended: {end.Value.Reason}"
        : e switch
        {
            LifecycleEvent.Join j => $"join node {j.Item.Id} (cpus {j.Item.Cpus}, memoryMiB {j.Item.MemoryMiB}, transport {j.Item.Address})",
            LifecycleEvent.Connected c => $"node {c.Item} connected",
            LifecycleEvent.Drain d => $"drain node {d.Item}",
            LifecycleEvent.DrainComplete d => $"node {d.Item} drained",
            LifecycleEvent.Leave l => $"node {l.Item} leaves",
            LifecycleEvent.PeerLost p => $"node {p.Item} lost",
            LifecycleEvent.StartVm s => $"start the VM ({GuestImageName(s.Item.Guest.Image)}, at most {s.Item.Timeout.TotalSeconds} s)",
            LifecycleEvent.StopVm s => $"stop the VM: {s.reason}",
            LifecycleEvent.VmRunning r => $"VM {r.generation} running",
            LifecycleEvent.Tick => "the clock tick that prunes departed members",
            // core is compiled --reflectionfree: an F# union's ToString names only its type, so name the case by its tag.
            _ => $"lifecycle event {e.Tag}",
        };

    static string GuestImageName(GuestImage image) => image is GuestImage.Kernel kernel ? $"kernel {kernel.path}" : "the probe guest";

    /// Stops the pipeline, waits (bounded) for effects in flight to notice, and disposes the effects.
    public async ValueTask DisposeAsync()
    {
        if (disposed)
            return;
        disposed = true;
        effects.PeerLost -= OnPeerLost;
        requests.Writer.TryComplete();
        await stopping.CancelAsync();
        await loop.WaitAsync(timeouts.StopVm).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await ticks.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(running).WaitAsync(timeouts.StopVm).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Requests still queued when the pipeline stopped get an answer instead of hanging their callers.
        while (requests.Reader.TryRead(out var request))
            request.Reply?.TrySetException(new ObjectDisposedException(nameof(ClusterController), "the node host is shutting down"));
        stopping.Dispose();
    }
}
