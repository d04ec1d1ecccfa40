using SsiHv.Shell.Processes;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using SsiHv.Core.Cluster;
using Microsoft.FSharp.Core;
using SsiHv.Core.Vm;
using SsiHv.Shell.Input;
using SsiHv.Shell.Lab;
using SsiHv.Shell.Nodes;

namespace SsiHv.Shell.Up;

/// <summary>What `ssihv up` runs: the topology, how nodes are addressed, the VM and the time limits.</summary>
public sealed record LocalClusterOptions(
    Core.Topology.Topology Topology,
    /// The topology file as given, for error messages.
    string TopologyName,
    /// Its bytes: copied for the boot node, which reads distances, HMAT and caches from it.
    byte[] TopologyBytes,
    ClusterPlan.Addressing Addressing,
    /// The guest and the limit of its run, from POST /v1/vm to "stopped".
    VmRequest Vm,
    long? MemoryBudgetMiB,
    /// The node configs' timeoutScale; null: the addressing's default (10 in lab machines, else 1).
    int? TimeoutScale,
    /// Limit for each node host to answer /v1/health and for the cluster to become active.
    TimeSpan StartTimeout);

/// <summary>A program and its arguments.</summary>
public sealed record CommandLine(string Program, IReadOnlyList<string> Arguments);

/// <summary>How to start the node host of `node` whose configuration file is `configPath`.</summary>
public delegate CommandLine NodeCommand(ClusterPlan.NodeConfig node, string configPath);

/// <summary>How the run ended: the VM's final state and the page statistics of the boot node.</summary>
public sealed record LocalClusterResult(VmReply Vm, PagesReply Pages);

/// <summary>
/// A whole cluster on this machine (docs/node-host.md, `ssihv up`): plans one node configuration per topology
/// node, writes the files to a private temporary directory, optionally builds network namespaces, starts one
/// node host process per node (the boot node first), waits for their health checks and for every node to be an
/// active member, starts the guest, waits until it stops and collects the page statistics. Whatever happens,
/// the node hosts are stopped (SIGTERM, then SIGKILL), the namespaces and the directory removed. A node host
/// that exits while the cluster runs, SIGINT or SIGTERM ends the run at once with a message that says so.
/// </summary>
public sealed class LocalCluster
{
    static readonly TimeSpan BaseRequestTimeout = TimeSpan.FromSeconds(10);
    static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    /// The boot node enforces the guest's timeout itself; this is how long after it we still wait for its word.
    static readonly TimeSpan VmReportGrace = TimeSpan.FromSeconds(30);
    const int SecretBytes = 32;
    const int TokenBytes = 24;

    readonly LocalClusterOptions options;
    /// The control API of node hosts with scaled timeouts answers as slowly as they wait: so long do we wait.
    readonly TimeSpan requestTimeout;
    readonly NodeCommand nodeCommand;
    readonly TextWriter log;
    readonly Stream console;
    readonly CancellationTokenSource abort = new();
    readonly List<NodeProcess> nodes = [];
    IReadOnlyList<string>? abortReason;
    volatile bool stopping;

    LocalCluster(LocalClusterOptions options, NodeCommand nodeCommand, TextWriter log, Stream console)
    {
        this.options = options;
        requestTimeout = BaseRequestTimeout * (options.TimeoutScale ?? ClusterPlan.defaultTimeoutScale(options.Addressing));
        this.nodeCommand = nodeCommand;
        this.log = TextWriter.Synchronized(log);
        this.console = console;
    }

    /// `ssihv node --config FILE` of the build that is running now (SelfCommand).
    public static CommandLine SsihvNode(ClusterPlan.NodeConfig node, string configPath)
    {
        var (program, arguments) = SelfCommand.For(["node", "--config", configPath]);
        return new CommandLine(program, [.. arguments]);
    }

    /// Runs the cluster to the guest's end. Throws <see cref="ClusterInputException"/> when the topology cannot
    /// be planned (exit 2) and <see cref="ClusterRunException"/> when the cluster or the guest failed (exit 1).
    /// `log` gets progress and the node hosts' stderr; `console` the boot node's stdout (the guest console).
    public static LocalClusterResult Run(LocalClusterOptions options, NodeCommand nodeCommand, TextWriter log, Stream console) =>
        new LocalCluster(options, nodeCommand, log, console).Run();

    LocalClusterResult Run()
    {
        var directory = Directory.CreateTempSubdirectory("ssihv-up-");
        NetworkNamespaces? network = null;
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            var vm = StageImages(directory.FullName);
            var plan = Plan(directory.FullName);
            if (options.Addressing.IsNetworkNamespaces)
            {
                network = NetworkNamespaces.Create(Environment.ProcessId, plan.Nodes.Length);
                Progress($"network namespaces {string.Join(", ", network.Names.Namespaces)} on bridge {network.Names.Bridge} ({NamespaceLayout.bridgeAddress})");
            }
            else if (options.Addressing.IsLabMachines)
            {
                // Built before any machine starts, so the node hosts' lab exec processes only wait for QEMU.
                var image = LabImage.Prepare(LabImage.DefaultDirectory(), log);
                network = NetworkNamespaces.CreateForLabMachines(Environment.ProcessId, plan.Nodes.Length);
                Progress($"lab machines (kernel {image.Release}) on tap devices {string.Join(", ", network.Names.HostInterfaces)} of bridge {network.Names.Bridge} ({NamespaceLayout.bridgeAddress})");
            }
            return RunNodes(plan, vm, directory.FullName, network).GetAwaiter().GetResult();
        }
        catch (NetworkSetupException e)
        {
            throw new ClusterRunException([$"ssihv up: {(options.Addressing.IsLabMachines ? "--lab" : "--netns")}: {e.Message}"]);
        }
        catch (LabException e)
        {
            throw new ClusterRunException([$"ssihv up: --lab: {e.Message}"]);
        }
        catch (Exception e) when (e is OperationCanceledException or ClusterApiException or HttpRequestException)
        {
            // After an abort, a call that failed because a node host had just died is not the news: the death is.
            throw new ClusterRunException(abortReason ?? [$"ssihv up: {(e is OperationCanceledException ? "no reply from the control API within " + requestTimeout.TotalSeconds + " s" : e.Message)}"]);
        }
        finally
        {
            StopNodes();
            network?.Dispose();
            foreach (var problem in network?.TeardownProblems ?? [])
                log.WriteLine($"ssihv up: teardown: {problem}");
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Copies the kernel and initrd into the run's own directory, which becomes the boot node's imageDirectory:
    /// the boot node reads only files inside it (docs/operations.md, "Limits"), and this way it holds exactly the
    /// files of this run, wherever the user's files are (two directories, beside private files) and whatever
    /// they are named, and disappears with the run. A copy costs one read of files the boot node reads anyway.
    /// </summary>
    VmRequest StageImages(string directory)
    {
        if (options.Vm.Guest.Image is not GuestImage.Kernel kernel)
            return options.Vm;
        var images = Directory.CreateDirectory(ImagesIn(directory)).FullName;
        var kernelCopy = Stage(kernel.path, Core.Input.InputFile.InputKind.Kernel, Path.Combine(images, "kernel"));
        var initrdCopy = kernel.initrd?.Value is { } initrd
            ? FSharpOption<string>.Some(Stage(initrd, Core.Input.InputFile.InputKind.Initrd, Path.Combine(images, "initrd")))
            : null;
        return new VmRequest(new Guest(GuestImage.NewKernel(kernelCopy, initrdCopy), options.Vm.Guest.Append), options.Vm.Timeout);
    }

    static string Stage(string source, Core.Input.InputFile.InputKind kind, string copy)
    {
        if (!InputFiles.TryRead(source, kind, out var bytes, out var problem))
            throw new ClusterInputException([$"ssihv up: {problem}"]);
        File.WriteAllBytes(copy, bytes);
        return copy;
    }

    static string ImagesIn(string directory) => Path.Combine(directory, "images");

    ClusterPlan.ClusterPlan Plan(string directory)
    {
        var topologyCopy = Path.Combine(directory, "topology.json");
        File.WriteAllBytes(topologyCopy, options.TopologyBytes);
        var planned = ClusterPlan.plan(new ClusterPlan.PlanInput(
            options.Topology, topologyCopy,
            RandomNumberGenerator.GetHexString(2 * SecretBytes, lowercase: true),
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TokenBytes)),
            options.Addressing,
            options.MemoryBudgetMiB is { } budget ? budget : null,
            options.TimeoutScale is { } scale ? scale : null,
            options.Vm.Guest.Image.IsKernel ? FSharpOption<string>.Some(ImagesIn(directory)) : null));
        if (planned.IsError)
            throw new ClusterInputException(planned.ErrorValue.Select(e => $"{options.TopologyName}: {ClusterPlan.errorText(e)}").ToList());
        return planned.ResultValue;
    }

    async Task<LocalClusterResult> RunNodes(ClusterPlan.ClusterPlan plan, VmRequest vm, string directory, NetworkNamespaces? network)
    {
        var cancellation = abort.Token;
        var token = plan.Nodes.Head.ApiToken;
        using var client = new ClusterClient(token, requestTimeout, Progress);
        var boot = plan.Nodes.Single(n => n.Boot);
        var bootUrl = new Uri(plan.BootUrl);
        // The boot node first: the others join it as they start.
        foreach (var node in plan.Nodes.OrderBy(n => n.Boot ? 0 : 1))
        {
            var index = plan.Nodes.ToList().IndexOf(node);
            var configPath = Path.Combine(directory, $"node{node.Id}.json");
            NodeConfigFile.Write(configPath, node);
            StartNode(node, configPath, network is null ? null : (network, index));
            await client.WaitHealthyAsync(new Uri($"http://{node.Http}"), node.Id.Value, options.StartTimeout, cancellation);
            Progress($"node {node.Id} is up: transport {node.Transport}, control http://{node.Http}");
        }

        var ids = plan.Nodes.Select(n => n.Id.Value).ToList();
        await client.WaitAllActiveAsync(bootUrl, ids, options.StartTimeout, cancellation);
        Progress($"cluster formed: {ids.Count} nodes active, boot node {boot.Id}; starting the guest");

        await client.StartVmAsync(bootUrl, vm, cancellation);
        VmReply stopped;
        try
        {
            stopped = await client.WaitVmStoppedAsync(bootUrl, vm.Timeout + VmReportGrace, cancellation);
        }
        catch (ClusterApiException e) when (abortReason is null)
        {
            await TryStopVm(client, bootUrl);
            throw new ClusterRunException([$"ssihv up: the guest did not stop within --timeout {options.Vm.Timeout.TotalSeconds:0.#} s; stopped it", $"ssihv up: {e.Message}"]);
        }
        var pages = await client.PagesAsync(bootUrl, cancellation);
        return new LocalClusterResult(stopped, pages);
    }

    void StartNode(ClusterPlan.NodeConfig node, string configPath, (NetworkNamespaces Network, int Index)? place)
    {
        var command = nodeCommand(node, configPath);
        var start = place switch
        {
            var (network, index) when options.Addressing.IsLabMachines => Start(InLabMachine(node, command, network, index)),
            var (network, index) => network.InNamespace(index, command.Program, command.Arguments),
            null => Start(command),
        };
        var process = NodeProcess.Start(node.Id.Value, start, log, node.Boot ? console : null);
        lock (nodes)
            nodes.Add(process);
        Progress($"started node {node.Id} (pid {process.Pid}): {start.FileName} {string.Join(' ', start.ArgumentList)}");
        _ = process.Exited.ContinueWith(exited => OnNodeExit(process, exited.Result), TaskScheduler.Default);
    }

    /// `ssihv lab exec` around the node host's command: its own machine, sized by core LabSizing, its NIC on the
    /// node's tap with the node's address and soft RoCE, so node hosts in different machines use RDMA verbs.
    CommandLine InLabMachine(ClusterPlan.NodeConfig node, CommandLine command, NetworkNamespaces network, int index)
    {
        var size = Core.Lab.LabSizing.forNode(node.Boot, node.MemoryMiB, node.StoreMiB);
        var limit = (int)Math.Ceiling((options.StartTimeout * 2 + options.Vm.Timeout + VmReportGrace).TotalSeconds);
        var (program, arguments) = SelfCommand.For([
            "lab", "exec",
            "--cpus", size.Cpus.ToString(CultureInfo.InvariantCulture),
            "--memory", $"{size.MemoryMiB}M",
            "--tap", network.Names.HostInterfaces[index],
            "--address", $"{NamespaceLayout.nodeAddress(index)}/{NamespaceLayout.prefixLength}",
            "--rdma",
            "--timeout", limit.ToString(CultureInfo.InvariantCulture),
            "--", command.Program, .. command.Arguments]);
        return new CommandLine(program, arguments);
    }

    static ProcessStartInfo Start(CommandLine command)
    {
        var start = new ProcessStartInfo(command.Program);
        foreach (var argument in command.Arguments)
            start.ArgumentList.Add(argument);
        return start;
    }

    void OnNodeExit(NodeProcess node, int exitCode)
    {
        if (stopping)
            return;
        var lines = new List<string> { $"ssihv up: node {node.NodeId} (pid {node.Pid}) exited with code {exitCode} while the cluster was running" };
        var last = node.LastErrorLines;
        lines.Add(last.Count == 0 ? $"ssihv up: node {node.NodeId} printed nothing on stderr" : $"ssihv up: node {node.NodeId}'s last stderr lines:");
        lines.AddRange(last.Select(l => $"  {l}"));
        // Said at once, not only when the run unwinds (which may take a few seconds of stopping the others).
        log.WriteLine($"{lines[0]}; stopping the cluster");
        Abort(lines);
    }

    void OnSignal(PosixSignalContext context)
    {
        // Handled here: the run unwinds through its finally, which stops the nodes and removes the namespaces.
        context.Cancel = true;
        Abort([$"ssihv up: interrupted by {context.Signal}; the cluster was stopped"]);
    }

    void Abort(IReadOnlyList<string> reason)
    {
        if (Interlocked.CompareExchange(ref abortReason, reason, null) is null)
            abort.Cancel();
    }

    async Task TryStopVm(ClusterClient client, Uri bootUrl)
    {
        try
        {
            using var limit = new CancellationTokenSource(requestTimeout);
            await client.StopVmAsync(bootUrl, limit.Token);
        }
        catch (Exception e) when (e is ClusterApiException or HttpRequestException or OperationCanceledException)
        {
            // The node hosts are stopped next anyway; the timeout is the message.
        }
    }

    void StopNodes()
    {
        stopping = true;
        List<NodeProcess> started;
        lock (nodes)
            started = [.. nodes];
        if (started.Count == 0)
            return;
        Progress($"stopping {started.Count} node host(s)");
        Task.WaitAll(started.Select(n => n.StopAsync(StopGrace)));
        foreach (var node in started)
        {
            if (!node.Exited.IsCompleted)
                log.WriteLine($"ssihv up: node {node.NodeId} (pid {node.Pid}) did not end after SIGKILL");
            node.Dispose();
        }
    }

    void Progress(string line) => log.WriteLine($"ssihv up: {line}");
}
