using SsiHv.Core.Cluster;
using SsiHv.Core.Input;
using SsiHv.Core.Vm;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Control;
using SsiHv.Shell.Input;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Vmm;
using SsiHv.Shell.Vmm.Boot;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Nodes;

/// <summary>
/// The real effects of a node host (docs/node-host.md): peers are dialled over the node transport, the VM runs
/// in this process with every vCPU here and its pager's page store forwarding each page to its home
/// (<see cref="ClusterPageStore"/>), drains move homes through the pager. Only the boot node's controller calls
/// these; on a memory node the object just owns the transport and the page store it serves. The running VM's
/// pager answers the invalidations peers send (<see cref="RunningVmInvalidations"/>, the transport's service).
/// </summary>
public sealed class NodeEffects : IClusterEffects
{
    readonly int self;
    readonly long? memoryBudgetMiB;
    readonly int readAheadPages;
    readonly ImageDirectory images;
    readonly INodeTransport transport;
    readonly RunningVmInvalidations invalidations;
    readonly Action<string> log;
    readonly Lock gate = new();
    VirtualMachine? vm;

    /// `invalidations`: the service `transport` was created with.
    public NodeEffects(int self, long? memoryBudgetMiB, int readAheadPages, string? imageDirectory, HomePageStore home, INodeTransport transport,
        RunningVmInvalidations invalidations, Action<string> log)
    {
        images = new ImageDirectory(imageDirectory);
        this.self = self;
        this.memoryBudgetMiB = memoryBudgetMiB;
        this.readAheadPages = readAheadPages;
        this.transport = transport;
        this.invalidations = invalidations;
        this.log = log;
        PageStore = new ClusterPageStore(self, home, transport);
        transport.PeerLost += OnPeerLost;
    }

    /// The boot pager's store: its counters back /v1/pages and /metrics.
    public ClusterPageStore PageStore { get; }

    /// The pager of the running VM, or of the last one after it ended (its counters are the run's summary).
    public UserfaultPager? LastPager { get; private set; }

    /// The running VM, or null.
    public VirtualMachine? Vm
    {
        get { lock (gate) return vm; }
    }

    public event Action<int, string>? PeerLost;

    void OnPeerLost(int node, string reason) => PeerLost?.Invoke(node, reason);

    public Task ConnectAsync(NodeInfo node, CancellationToken cancellation)
    {
        transport.SetPeer(node.Id.Value, node.Address);
        return transport.ConnectAsync(node.Id.Value, cancellation);
    }

    public void Disconnect(int node) => transport.RemovePeer(node);

    public async Task<RunningVm> StartVmAsync(Core.Topology.Topology topology, VmRequest request, CancellationToken cancellation)
    {
        var config = await Task.Run(() => VmConfigFor(topology, request), cancellation);
        // Creating the VM maps guest memory and loads the kernel: seconds for large guests, so off the caller.
        var created = await Task.Run(() => VirtualMachine.Create(config), cancellation);
        lock (gate)
        {
            if (vm is not null)
            {
                created.Dispose();
                throw new InvalidOperationException("a VM is already running on this node host");
            }
            vm = created;
            LastPager = created.Pager;
        }
        if (created.Pager is { } pager)
        {
            pager.Failed += reason => created.Stop($"the pager stopped: {reason}");
            invalidations.Attach(pager);
        }
        log($"VM started: {Core.Topology.TopologyModule.totalCpus(topology)} vCPUs here, {topology.Nodes.Length} NUMA nodes, memory budget {config.MemoryBudgetBytes / (1024 * 1024)} MiB");
        return new RunningVm(RunAsync(created, request.Timeout));
    }

    async Task<VmOutcome> RunAsync(VirtualMachine running, TimeSpan timeout)
    {
        try
        {
            await using var console = Console.OpenStandardOutput();
            var stop = await Task.Run(() => running.RunAsync(console, timeout));
            if (running.Pager is { } pager)
                log($"pager: {pager.Metrics.Summary()}");
            return stop.Outcome();
        }
        finally
        {
            lock (gate)
                vm = null;
            if (running.Pager is { } pager)
                invalidations.Detach(pager);
            running.Dispose();
        }
    }

    VmConfig VmConfigFor(Core.Topology.Topology topology, VmRequest request)
    {
        var kernelFile = request.Guest.Image as GuestImage.Kernel;
        var path = kernelFile?.path ?? ProductAssets.ProbeGuest;
        // The control API admitted the request's paths; what is opened now is checked again (ImageDirectory).
        var kernel = kernelFile is null
            ? InputFiles.Read(path, InputFile.InputKind.Kernel)
            : InputFiles.Read(path, InputFile.InputKind.Kernel, opened => images.RefusalOfOpened("kernel", path, opened));
        var initrd = kernelFile?.initrd?.Value is { } initrdPath
            ? InputFiles.Read(initrdPath, InputFile.InputKind.Initrd, opened => images.RefusalOfOpened("initrd", initrdPath, opened))
            : null;
        var budget = MemoryBudget.ofClusterVm(Option(memoryBudgetMiB), topology);
        return new VmConfig(topology, path, kernel, initrd, request.Guest.Append, budget, _ => PageStore, readAheadPages);
    }

    public Task MovePagesAsync(int source, int target, CancellationToken cancellation)
    {
        var pager = Vm?.Pager;
        if (pager is null)
            return Task.CompletedTask; // no VM, so no page lives anywhere
        log($"moving the pages homed on node {source} to node {target}");
        return pager.MoveHomeAsync(source, target).WaitAsync(cancellation);
    }

    public void StopVm(string reason) => Vm?.Stop(reason);

    public async ValueTask DisposeAsync()
    {
        transport.PeerLost -= OnPeerLost;
        Vm?.Stop("the node host is shutting down");
        await transport.DisposeAsync();
    }
}
