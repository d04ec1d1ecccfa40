using System.Threading.Channels;
using SsiHv.Core.Acpi;
using SsiHv.Core.Cluster;
using static SsiHv.Core.Cluster.Membership;

namespace SsiHv.Shell.Control;

/// <summary>How long the controller waits for each effect before it treats the effect as failed.</summary>
public sealed record ControlTimeouts(TimeSpan Connect, TimeSpan StartVm, TimeSpan MovePages, TimeSpan StopVm)
{
    public static ControlTimeouts Default { get; } =
        new(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(30));
}

/// <summary>What the boot node knows of its cluster at one instant; immutable, published after every step.</summary>
public sealed record ClusterView(
    Membership.Cluster Cluster, int? VmExitCode, Core.Topology.Topology? Topology, IReadOnlyDictionary<string, byte[]> AcpiTables);

/// <summary>The reply to a request: the view right after its step, and the membership's refusal if it refused.</summary>
public sealed record StepOutcome(ClusterView View, MembershipError? Refusal);

/// <summary>
/// The boot node's control pipeline (docs/design.md §3.4): the one place that steps
/// <see cref="Membership.step"/>. Requests from HTTP handlers and completions of effects are queued on one
/// channel and handled by one task, one event at a time, so the cluster state is never shared between threads;
/// readers get the immutable <see cref="ClusterView"/> published after each step. Actions become calls on
/// <see cref="IClusterEffects"/>; awaited ones run beside the pipeline with a timeout and come back as events.
/// </summary>
public sealed class ClusterController : IAsyncDisposable
{
    abstract record Request;
    sealed record Step(MembershipEvent Event, TaskCompletionSource<StepOutcome>? Reply) : Request;
    sealed record StartVm(VmRequest Vm, TaskCompletionSource<StepOutcome> Reply) : Request;
    sealed record StopVm(string Reason, TaskCompletionSource<StepOutcome> Reply) : Request;
    /// A VM of generation `Generation` ended (or never started); stale generations are ignored.
    sealed record VmEnded(int Generation, VmEnd End) : Request;
    sealed record VmRunning(int Generation) : Request;

    readonly Channel<Request> requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    readonly IClusterEffects effects;
    readonly Core.Topology.Topology? template;
    readonly ControlTimeouts timeouts;
    readonly Action<string> log;
    readonly CancellationTokenSource stopping = new();
    readonly Task loop;
    // Owned by the loop task only.
    Membership.Cluster cluster;
    readonly List<Task> running = [];
    VmRequest? pendingVm;
    int vmGeneration;
    int? vmExitCode;
    /// Why the VM was asked to stop through the API: the reason its end reports.
    string? stopRequested;
    bool disposed;
    Core.Topology.Topology? topology;
    IReadOnlyDictionary<string, byte[]> tables = new Dictionary<string, byte[]>();
    // Written by the loop, read by anyone.
    ClusterView view;

    public ClusterController(
        NodeInfo bootNode, Core.Topology.Topology? template, IClusterEffects effects, ControlTimeouts timeouts, Action<string> log)
    {
        var created = Membership.create(bootNode);
        cluster = created.IsOk
            ? created.ResultValue
            : throw new ArgumentException(MembershipErrorModule.text(created.ErrorValue), nameof(bootNode));
        this.template = template;
        this.effects = effects;
        this.timeouts = timeouts;
        this.log = log;
        view = new ClusterView(cluster, null, null, tables);
        effects.PeerLost += OnPeerLost;
        loop = Task.Run(RunAsync);
    }

    public ClusterView View => Volatile.Read(ref view);

    public Task<StepOutcome> JoinAsync(NodeInfo node) => Submit(reply => new Step(MembershipEvent.NewJoin(node), reply));

    public Task<StepOutcome> DrainAsync(int node) => Submit(reply => new Step(MembershipEvent.NewDrain(node), reply));

    public Task<StepOutcome> LeaveAsync(int node) => Submit(reply => new Step(MembershipEvent.NewLeave(node), reply));

    public Task<StepOutcome> StartVmAsync(VmRequest request) => Submit(reply => new StartVm(request, reply));

    public Task<StepOutcome> StopVmAsync(string reason) => Submit(reply => new StopVm(reason, reply));

    Task<StepOutcome> Submit(Func<TaskCompletionSource<StepOutcome>, Request> request)
    {
        var reply = new TaskCompletionSource<StepOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!requests.Writer.TryWrite(request(reply)))
            reply.SetException(new ObjectDisposedException(nameof(ClusterController), "the node host is shutting down"));
        return reply.Task;
    }

    void Post(Request request) => requests.Writer.TryWrite(request);

    void OnPeerLost(int node, string reason)
    {
        log($"transport lost node {node}: {reason}");
        Post(new Step(MembershipEvent.NewPeerLost(node), null));
    }

    async Task RunAsync()
    {
        await foreach (var request in requests.Reader.ReadAllAsync())
        {
            try
            {
                Handle(request);
            }
            catch (Exception e) when (request is Step { Reply: { } } or StartVm or StopVm)
            {
                ReplyOf(request)?.TrySetException(e);
            }
            catch (Exception e)
            {
                log($"internal error handling {request.GetType().Name}: {e.Message}");
            }
            running.RemoveAll(t => t.IsCompleted);
        }
    }

    static TaskCompletionSource<StepOutcome>? ReplyOf(Request request) => request switch
    {
        Step s => s.Reply,
        StartVm s => s.Reply,
        StopVm s => s.Reply,
        _ => null,
    };

    void Handle(Request request)
    {
        switch (request)
        {
            case Step step:
                var refusal = Apply(step.Event);
                step.Reply?.SetResult(new StepOutcome(View, refusal));
                break;
            case StartVm start:
                pendingVm = start.Vm;
                var startRefusal = Apply(MembershipEvent.StartVm);
                pendingVm = null;
                start.Reply.SetResult(new StepOutcome(View, startRefusal));
                break;
            case StopVm stop:
                stop.Reply.SetResult(new StepOutcome(View, RequestStop(stop.Reason)));
                break;
            case VmRunning started when started.Generation == vmGeneration:
                Apply(MembershipEvent.VmStarted);
                break;
            case VmEnded ended when ended.Generation == vmGeneration:
                vmExitCode ??= ended.End.Failed ? 1 : 0;
                Apply(MembershipEvent.NewVmStopped(stopRequested ?? ended.End.Reason));
                break;
            case VmRunning or VmEnded:
                break; // a VM that was replaced since
        }
    }

    /// Steps the membership with one event, performs the actions and publishes the new view.
    MembershipError? Apply(MembershipEvent membershipEvent)
    {
        var (next, actions) = Membership.step(cluster, membershipEvent);
        cluster = next;
        MembershipError? refusal = null;
        foreach (var action in actions)
        {
            if (action is MembershipAction.Reject reject)
                refusal = reject.Item;
            else
                Perform(action);
        }
        log(refusal is null ? $"{Describe(membershipEvent)}" : $"{Describe(membershipEvent)}: refused: {MembershipErrorModule.text(refusal)}");
        Publish();
        return refusal;
    }

    void Publish() => Volatile.Write(ref view, new ClusterView(cluster, vmExitCode, topology, tables));

    void Perform(MembershipAction action)
    {
        switch (action)
        {
            case MembershipAction.Connect connect:
                var node = connect.Item;
                Background($"connect to node {node.Id} at {node.Address}", timeouts.Connect,
                    token => effects.ConnectAsync(node, token),
                    () => new Step(MembershipEvent.NewConnected(node.Id), null),
                    () => new Step(MembershipEvent.NewPeerLost(node.Id), null));
                break;
            case MembershipAction.Disconnect disconnect:
                effects.Disconnect(disconnect.Item);
                break;
            case MembershipAction.AssembleTopology assemble:
                Assemble(assemble.Item);
                break;
            case { IsStartVm: true }:
                Start();
                break;
            case MembershipAction.MovePages move:
                var (source, target) = (move.source, move.target);
                Background($"move the pages of node {source} to node {target}", timeouts.MovePages,
                    token => effects.MovePagesAsync(source, target, token),
                    () => new Step(MembershipEvent.NewDrainComplete(source), null),
                    // Its pages are neither all here nor all there: the VM cannot go on trusting them.
                    () => new Step(MembershipEvent.NewPeerLost(source), null));
                break;
            case MembershipAction.StopVm stop:
                vmExitCode = 1;
                effects.StopVm(stop.reason);
                WatchStop(stop.reason);
                break;
        }
    }

    void Assemble(Microsoft.FSharp.Collections.FSharpList<NodeInfo> nodes)
    {
        vmGeneration++;
        vmExitCode = null;
        stopRequested = null;
        topology = null;
        tables = new Dictionary<string, byte[]>();
        var assembled = ClusterTopology.assemble(nodes, template is null ? null : Microsoft.FSharp.Core.FSharpOption<Core.Topology.Topology>.Some(template));
        if (assembled.IsError)
        {
            FailStart(assembled.ErrorValue);
            return;
        }
        var built = TableSet.build(assembled.ResultValue);
        if (built.IsError)
        {
            FailStart($"the assembled topology does not fit the ACPI tables: {built.ErrorValue}");
            return;
        }
        topology = assembled.ResultValue;
        tables = built.ResultValue.ToDictionary(t => t.Signature, t => t.Bytes, StringComparer.OrdinalIgnoreCase);
    }

    /// The start failed before any effect ran: the VM ends at once with the reason.
    void FailStart(string reason) => Post(new VmEnded(vmGeneration, new VmEnd(reason, Failed: true)));

    void Start()
    {
        if (topology is not { } vmTopology || pendingVm is not { } vm)
            return; // assembly failed and posted the end already
        var generation = vmGeneration;
        var cancellation = stopping.Token;
        running.Add(Task.Run(async () =>
        {
            RunningVm started;
            try
            {
                started = await WithTimeout(token => effects.StartVmAsync(vmTopology, vm, token), timeouts.StartVm, cancellation);
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                Post(new VmEnded(generation, new VmEnd($"the VM did not start: {Reason(e, timeouts.StartVm)}", Failed: true)));
                return;
            }
            Post(new VmRunning(generation));
            VmEnd end;
            try
            {
                // The VM enforces its own time limit; the grace covers its stopping.
                end = await started.Ended.WaitAsync(vm.Timeout + timeouts.StopVm, cancellation);
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                end = new VmEnd($"the VM did not report its end: {Reason(e, vm.Timeout + timeouts.StopVm)}", Failed: true);
            }
            Post(new VmEnded(generation, end));
        }, CancellationToken.None));
    }

    MembershipError? RequestStop(string reason)
    {
        switch (cluster.Vm)
        {
            case VmState.Starting or VmState.Running:
                log($"stop the VM: {reason}");
                stopRequested ??= reason;
                effects.StopVm(reason);
                WatchStop(reason);
                return null;
            case VmState.Stopped:
                return null; // already stopped: asking again changes nothing
            default:
                return MembershipError.NoVmStarted;
        }
    }

    /// If the VM does not confirm its end in time, it is taken as stopped (and failed) anyway.
    void WatchStop(string reason)
    {
        var generation = vmGeneration;
        var cancellation = stopping.Token;
        running.Add(Task.Run(async () =>
        {
            await Task.Delay(timeouts.StopVm, cancellation).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!cancellation.IsCancellationRequested)
                Post(new VmEnded(generation, new VmEnd($"{reason} (the VM did not confirm its end within {timeouts.StopVm.TotalSeconds} s)", Failed: true)));
        }, CancellationToken.None));
    }

    /// Runs an awaited effect beside the pipeline; its success or failure comes back as an event.
    void Background(string what, TimeSpan timeout, Func<CancellationToken, Task> effect, Func<Request> succeeded, Func<Request> failed)
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
                Post(failed());
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Post(succeeded());
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

    static string Describe(MembershipEvent e) => e switch
    {
        MembershipEvent.Join j => $"join node {j.Item.Id} (cpus {j.Item.Cpus}, memoryMiB {j.Item.MemoryMiB}, transport {j.Item.Address})",
        MembershipEvent.Connected c => $"node {c.Item} connected",
        MembershipEvent.Drain d => $"drain node {d.Item}",
        MembershipEvent.DrainComplete d => $"node {d.Item} drained",
        MembershipEvent.Leave l => $"node {l.Item} leaves",
        MembershipEvent.PeerLost p => $"node {p.Item} lost",
        MembershipEvent.VmStopped s => $"VM stopped: {s.reason}",
        _ when e.IsStartVm => "start the VM",
        _ when e.IsVmStarted => "VM running",
        _ => e.ToString() ?? "",
    };

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
        await Task.WhenAll(running).WaitAsync(timeouts.StopVm).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Requests still queued when the pipeline stopped get an answer instead of hanging their callers.
        while (requests.Reader.TryRead(out var request))
            ReplyOf(request)?.TrySetException(new ObjectDisposedException(nameof(ClusterController), "the node host is shutting down"));
        stopping.Dispose();
    }
}
