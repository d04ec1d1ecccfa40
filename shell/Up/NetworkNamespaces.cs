using System.Diagnostics;
using SsiHv.Core.Cluster;
using SsiHv.Shell.Processes;

namespace SsiHv.Shell.Up;

/// <summary>
/// The network of `ssihv up --netns` (names and addresses from core NamespaceLayout): one namespace per node
/// with `lo` up and one veth end at 10.213.0.(i+1)/24, the other veth end on a bridge at 10.213.0.254/24 in the
/// root namespace, so the nodes reach each other and `up` reaches their control APIs, and nothing is routed
/// anywhere else. Made with iproute2's `ip`. Dispose removes everything that was created, and creation that
/// fails part way removes what it had made before it throws.
/// </summary>
public sealed class NetworkNamespaces : IDisposable
{
    static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    readonly List<string> createdNamespaces = [];
    readonly List<string> createdLinks = [];
    int disposed;

    /// True for lab machines: each node's end of the bridge is a tap device that QEMU opens (no namespace).
    readonly bool taps;

    NetworkNamespaces(NamespaceLayout.NamespaceNames names, bool taps)
    {
        Names = names;
        this.taps = taps;
    }

    public NamespaceLayout.NamespaceNames Names { get; }

    /// What teardown could not remove (empty when all went well), for the caller to report.
    public IReadOnlyList<string> TeardownProblems { get; private set; } = [];

    /// Builds the network for `nodeCount` nodes; throws <see cref="NetworkSetupException"/> naming the failed
    /// `ip` command after removing whatever it had made.
    public static NetworkNamespaces Create(int pid, int nodeCount) => Create(pid, nodeCount, taps: false);

    /// The same bridge and addresses for `ssihv up --lab`: node i's end is tap device HostInterfaces[i], which
    /// node i's lab machine opens as its NIC and configures at 10.213.0.(i+1) inside.
    public static NetworkNamespaces CreateForLabMachines(int pid, int nodeCount) => Create(pid, nodeCount, taps: true);

    static NetworkNamespaces Create(int pid, int nodeCount, bool taps)
    {
        var layout = NamespaceLayout.names(pid, nodeCount);
        if (layout.IsError)
            throw new NetworkSetupException(layout.ErrorValue);
        var holder = SubnetHolder();
        if (holder is not null)
            throw new NetworkSetupException(
                $"{NamespaceLayout.subnet} is already in use in the root namespace by {holder} (another `ssihv up --netns`?); wait for it to end, or remove it with 'ip link delete {holder}' if its run was killed");
        var network = new NetworkNamespaces(layout.ResultValue, taps);
        try
        {
            network.Build();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// The interface that already has an address in the subnet, if any: a second bridge on the same subnet would
    /// make the root namespace's route to the nodes ambiguous.
    public static string? SubnetHolder()
    {
        var lines = RunIp(["-o", "-4", "addr", "show", "to", NamespaceLayout.subnet]);
        var first = lines.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        // "7: ssihv3248br    inet 10.213.0.254/24 ..."
        return first?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    }

    /// The command line that runs `program` inside node `index`'s namespace.
    public ProcessStartInfo InNamespace(int index, string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("ip");
        foreach (var argument in new[] { "netns", "exec", Names.Namespaces[index], program }.Concat(arguments))
            start.ArgumentList.Add(argument);
        return start;
    }

    void Build()
    {
        static void Ip(params string[] arguments) => RunIp(arguments);

        var bridge = Names.Bridge;
        Ip("link", "add", bridge, "type", "bridge");
        createdLinks.Add(bridge);
        Ip("addr", "add", $"{NamespaceLayout.bridgeAddress}/{NamespaceLayout.prefixLength}", "dev", bridge);
        Ip("link", "set", bridge, "up");
        for (var i = 0; i < Names.Namespaces.Length; i++)
        {
            var ns = Names.Namespaces[i];
            var hostEnd = Names.HostInterfaces[i];
            if (taps)
            {
                Ip("tuntap", "add", "dev", hostEnd, "mode", "tap");
                createdLinks.Add(hostEnd);
                Ip("link", "set", hostEnd, "master", bridge);
                Ip("link", "set", hostEnd, "up");
                continue;
            }
            Ip("netns", "add", ns);
            createdNamespaces.Add(ns);
            // The peer is created directly inside the namespace, so no temporary name can clash in the root one.
            Ip("link", "add", hostEnd, "type", "veth", "peer", "name", NamespaceLayout.innerInterface, "netns", ns);
            createdLinks.Add(hostEnd);
            Ip("link", "set", hostEnd, "master", bridge);
            Ip("link", "set", hostEnd, "up");
            Ip("-n", ns, "link", "set", "lo", "up");
            Ip("-n", ns, "addr", "add", $"{NamespaceLayout.nodeAddress(i)}/{NamespaceLayout.prefixLength}", "dev", NamespaceLayout.innerInterface);
            Ip("-n", ns, "link", "set", NamespaceLayout.innerInterface, "up");
        }
    }

    /// Removes the links (a veth pair goes with either end) and namespaces this instance created. Every
    /// removal is tried even when one fails; the failures are kept in <see cref="TeardownProblems"/>.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        var problems = new List<string>();
        foreach (var link in Enumerable.Reverse(createdLinks))
            TryRemove(problems, "link", "delete", link);
        foreach (var ns in Enumerable.Reverse(createdNamespaces))
            TryRemove(problems, "netns", "delete", ns);
        TeardownProblems = problems;
    }

    static void TryRemove(List<string> problems, params string[] arguments)
    {
        try
        {
            RunIp(arguments);
        }
        catch (NetworkSetupException e)
        {
            problems.Add(e.Message);
        }
    }

    /// Runs `ip` and returns its standard output; a failure is a NetworkSetupException naming the command.
    static string RunIp(IReadOnlyList<string> arguments) =>
        HostCommand.Run("ip", arguments, CommandTimeout, message => new NetworkSetupException(message), "apt-get install iproute2");
}

/// <summary>An `ip` command of the --netns setup or teardown failed; the message names it and its error.</summary>
public sealed class NetworkSetupException(string message) : Exception(message);
