using System.Net;
using System.Runtime.InteropServices;
using SsiHv.Core.Cluster;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Control;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Topology;
using SsiHv.Shell.Transport;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv node --config FILE</c>: one long-running node host (docs/node-host.md). Runs until SIGINT or
/// SIGTERM, then stops the control API and the effects and exits 0. Bad configuration exits 2 naming the file
/// and the field; a memory node that cannot join its boot node exits 1 naming the boot URL.
/// </summary>
public sealed class NodeCommand : ICommand
{
    static readonly OptionSpec Config = new("config", "FILE", "the node configuration (docs/node-host.md)");
    static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    public CommandSyntax Syntax { get; } = new(
        "node",
        "run a node host: the HTTP control API, and the cluster membership on the boot node",
        "Serves the control API on the configuration's http address. The boot node (\"boot\": true) runs the\n"
        + "cluster membership and the VM; a memory node (\"join\": URL) joins its boot node at start-up. Runs\n"
        + "until SIGINT or SIGTERM. One line per event goes to stderr.",
        [],
        [Config]);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        var path = arguments.Required(Config.Name);
        if (!NodeConfigFile.TryLoad(path, out var config, out var problems))
            throw CliException.BadInput(problems);
        var template = Template(path, config);
        var log = Log(config.Id.Value);
        RaiseOpenFilesLimit(config.Id.Value, log);

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we stop cleanly ourselves
            log($"{context.Signal}: stopping");
            stop.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return RunAsync(config, template, log, stop.Token).GetAwaiter().GetResult();
    }

    static void RaiseOpenFilesLimit(int id, Action<string> log)
    {
        var limit = OpenFilesLimit.Get();
        var decided = Core.Cluster.NodeLimits.openFiles(limit.Hard);
        if (decided.IsError)
            throw CliException.Failure($"ssihv node {id}: {decided.ErrorValue}");
        if (limit.Soft < decided.ResultValue)
        {
            OpenFilesLimit.SetSoft(decided.ResultValue);
            log($"open-files limit raised from {limit.Soft} to {decided.ResultValue}");
        }
    }

    static async Task<int> RunAsync(NodeConfig.NodeConfig config, Core.Topology.Topology? template, Action<string> log, CancellationToken stop)
    {
        using var home = new HomePageStore(config.Id.Value, config.StoreMiB);
        var invalidations = new RunningVmInvalidations();
        INodeTransport transport;
        try
        {
            var listen = new IPEndPoint(IPAddress.Parse(config.Transport.Address), config.Transport.Port);
            transport = NodeTransport.Create(new TransportOptions(config.Id.Value, listen, config.Secret, home) { Invalidations = invalidations, Log = log }.Scaled(config.TimeoutScale));
        }
        catch (TransportException e)
        {
            throw CliException.Failure($"ssihv node {config.Id}: transport {config.Transport}: {e.Message}");
        }
        var boot = (config.Role as NodeConfig.NodeRole.BootNode)?.Item;
        var effects = new NodeEffects(config.Id.Value, boot?.MemoryBudgetMiB?.Value, boot?.ReadAheadPages ?? Core.Paging.Pager.PagerConfigModule.DefaultReadAheadPages,
            boot?.ImageDirectory?.Value, home, transport, invalidations, log);
        await using var host = new NodeHost(config, template, effects, new NodeStatus(home, transport, effects), log,
            NodeHostTimeouts.Default.Scaled(config.TimeoutScale));
        var startTimeout = StartTimeout * config.TimeoutScale;
        try
        {
            using var starting = CancellationTokenSource.CreateLinkedTokenSource(stop);
            starting.CancelAfter(startTimeout);
            await host.StartAsync(starting.Token);
        }
        catch (JoinFailedException e)
        {
            throw CliException.Failure($"ssihv node {config.Id}: {e.Message}");
        }
        catch (IOException e)
        {
            throw CliException.Failure($"ssihv node {config.Id}: http {config.Http}: cannot listen: {e.Message}");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        catch (OperationCanceledException)
        {
            throw CliException.Failure($"ssihv node {config.Id}: did not start within {startTimeout.TotalSeconds} s");
        }
        await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return ExitCodes.Success;
    }

    /// The boot node's topology file, relative to the configuration file's folder.
    static Core.Topology.Topology? Template(string configPath, NodeConfig.NodeConfig config)
    {
        if (config.Role is not NodeConfig.NodeRole.BootNode { Item.TopologyFile: { } file })
            return null;
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, file.Value);
        return TopologyFile.TryLoad(path, out var topology, out var problems)
            ? topology
            : throw CliException.BadInput([$"{configPath}: topology: the file {file.Value} is not a valid topology:", .. problems]);
    }

    static Action<string> Log(int id)
    {
        var error = Console.Error;
        var gate = new Lock();
        return line =>
        {
            lock (gate)
                error.WriteLine($"ssihv node {id}: {line}");
        };
    }
}
