using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Vm;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Up;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Up;

/// <summary>
/// The --netns network of `ssihv up` on the real kernel: two namespaces on a bridge reach each other (ping, TCP)
/// and are reached from the root namespace, and teardown leaves nothing named after this process behind, also
/// after a setup that failed half way. All in one class: the names carry this test process's pid, so these
/// tests must not overlap.
/// </summary>
[Collection(NetworkNamespacesCollection.Name)]
public sealed class NetworkNamespacesTests
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    static int Pid => Environment.ProcessId;

    public NetworkNamespacesTests() => NetworkNamespacesCollection.WaitUntilSubnetIsFree();

    [Fact]
    public async Task NodesPingAndConnectToEachOtherThroughTheBridge()
    {
        using (var network = NetworkNamespaces.Create(Pid, 2))
        {
            var (n0, n1) = (network.Names.Namespaces[0], network.Names.Namespaces[1]);
            var ping = ExternalProcess.Run("ip", ["netns", "exec", n0, "ping", "-c1", "-W1", "10.213.0.2"], Limit);
            Assert.True(ping.ExitCode == 0, ping.ToString());

            using var listener = ListenInNamespace(n1, IPAddress.Parse("10.213.0.2"));
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accepted = listener.AcceptTcpClientAsync().WaitAsync(Limit);
            var client = ExternalProcess.Run("ip",
                ["netns", "exec", n0, "bash", "-c", $"exec 3<>/dev/tcp/10.213.0.2/{port} && echo from-node-0 >&3"], Limit);
            Assert.True(client.ExitCode == 0, client.ToString());
            using var connection = await accepted;
            using var reader = new StreamReader(connection.GetStream());
            Assert.Equal("from-node-0", reader.ReadLine());
            var peer = (IPEndPoint)connection.Client.RemoteEndPoint!;
            Assert.Equal(IPAddress.Parse("10.213.0.1"), peer.Address);

            // `up` itself, in the root namespace, reaches the nodes' control APIs through the bridge.
            using var fromRoot = new TcpClient();
            var rootAccepted = listener.AcceptTcpClientAsync().WaitAsync(Limit);
            await fromRoot.ConnectAsync(IPAddress.Parse("10.213.0.2"), port).WaitAsync(Limit);
            using var rootConnection = await rootAccepted;
            Assert.Equal(IPAddress.Parse("10.213.0.254"), ((IPEndPoint)rootConnection.Client.RemoteEndPoint!).Address);
        }
        AssertNothingLeft();
    }

    [Fact]
    public void SetupThatFailsHalfWayRemovesWhatItMade()
    {
        // A link already holding node 1's host-side name makes the second veth fail after the bridge,
        // both namespaces' predecessors and node 0's veth exist.
        var names = Core.Cluster.NamespaceLayout.names(Pid, 3).ResultValue;
        var squatter = names.HostInterfaces[1];
        ExternalProcess.Output("ip", "link", "add", squatter, "type", "bridge");
        try
        {
            var failure = Assert.Throws<NetworkSetupException>(() => NetworkNamespaces.Create(Pid, 3));
            Assert.Contains(squatter, failure.Message);
            Assert.Contains("ip link add", failure.Message);
            // The squatter was not ours to remove.
            Assert.Equal([squatter], LinksWithPrefix(names.Prefix));
            Assert.Empty(NamespacesWithPrefix(names.Prefix));
        }
        finally
        {
            ExternalProcess.Output("ip", "link", "delete", squatter);
        }
        AssertNothingLeft();
    }

    [Fact]
    public void TeardownIsIdempotentAndAlsoRemovesAThreeNodeNetwork()
    {
        var network = NetworkNamespaces.Create(Pid, 3);
        Assert.Equal(3, NamespacesWithPrefix(network.Names.Prefix).Count);
        Assert.Equal(4, LinksWithPrefix(network.Names.Prefix).Count); // bridge + 3 host-side veth ends
        network.Dispose();
        network.Dispose();
        Assert.Empty(network.TeardownProblems);
        AssertNothingLeft();
    }

    [Fact]
    public void UpInNamespacesRunsEachNodeInItsOwnAndRemovesThemWhenANodeFails()
    {
        var topology = """
            { "name": "n", "nodes": [ { "id": 0, "cpus": 1, "memoryMiB": 64, "address": "127.0.0.1:7100" },
                                      { "id": 1, "cpus": 0, "memoryMiB": 64, "address": "127.0.0.1:7100", "initiator": 0 } ] }
            """;
        var bytes = System.Text.Encoding.UTF8.GetBytes(topology);
        Assert.True(Shell.Topology.TopologyFile.TryParse("n.json", bytes, out var parsed, out var problems), string.Join('\n', problems));
        var options = new LocalClusterOptions(parsed, "n.json", bytes, Core.Cluster.ClusterPlan.Addressing.NetworkNamespaces,
            new VmRequest(new Guest(GuestImage.Probe, ""), TimeSpan.FromSeconds(60)), null, null, TimeSpan.FromSeconds(20));
        var log = new StringWriter();

        // The boot node's stand-in shows the address it sees and fails, as a node host that cannot bind would.
        var failure = Assert.Throws<ClusterRunException>(() => LocalCluster.Run(options,
            (_, _) => new CommandLine("sh", ["-c", "ip -4 -o addr show dev eth0 >&2; exit 4"]), log, new MemoryStream()));

        Assert.Contains("node 0 (pid ", failure.Lines[0]);
        Assert.Contains("exited with code 4", failure.Lines[0]);
        Assert.Contains(failure.Lines, l => l.Contains("inet 10.213.0.1/24"));
        Assert.Contains($"ip netns exec ssihv{Pid}n0 sh -c", log.ToString());
        AssertNothingLeft();
    }

    [Fact]
    public void ASecondNetworkOnTheSameSubnetIsRefusedNamingTheFirst()
    {
        using (var first = NetworkNamespaces.Create(Pid, 1))
        {
            var second = Assert.Throws<NetworkSetupException>(() => NetworkNamespaces.Create(Pid + 1, 1));
            Assert.Contains($"10.213.0.0/24 is already in use in the root namespace by {first.Names.Bridge}", second.Message);
            Assert.Empty(NamespacesWithPrefix($"ssihv{Pid + 1}"));
            Assert.Empty(LinksWithPrefix($"ssihv{Pid + 1}"));
        }
        AssertNothingLeft();
    }

    static void AssertNothingLeft()
    {
        var prefix = $"ssihv{Pid}";
        Assert.Empty(NamespacesWithPrefix(prefix));
        Assert.Empty(LinksWithPrefix(prefix));
    }

    static List<string> NamespacesWithPrefix(string prefix) =>
        ExternalProcess.Output("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0])
            .Where(name => name.StartsWith(prefix + "n", StringComparison.Ordinal))
            .ToList();

    /// `ip -o link` lines look like "12: ssihv123br: <...>" or "13: ssihv123v0@if2: <...>".
    static List<string> LinksWithPrefix(string prefix) =>
        ExternalProcess.Output("ip", "-o", "link").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(": ")[1].Split('@')[0])
            .Where(name => name == prefix + "br" || IsHostInterfaceOf(prefix, name))
            .ToList();

    /// `ssihv<pid>v<hex>` exactly, so that pid 12's check does not see pid 123's links.
    static bool IsHostInterfaceOf(string prefix, string name) =>
        name.StartsWith(prefix + "v", StringComparison.Ordinal) && name.Length > prefix.Length + 1
        && name[(prefix.Length + 1)..].All(Uri.IsHexDigit);

    /// A listening socket created inside the namespace by a thread that entered it (and then ends).
    static TcpListener ListenInNamespace(string ns, IPAddress address)
    {
        TcpListener? listener = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                NetworkNamespace.EnterOnCurrentThread(ns);
                listener = new TcpListener(address, 0);
                listener.Start();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(Limit), "the namespace thread did not finish");
        return listener ?? throw new InvalidOperationException($"cannot listen in {ns}", failure);
    }
}
