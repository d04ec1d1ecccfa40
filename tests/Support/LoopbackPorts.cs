using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Cluster;

namespace SsiHv.Tests.Support;

/// <summary>
/// TCP ports on 127.0.0.1 for a product that must be told its port before it listens: a node host advertises
/// its transport address to its peers, so it cannot bind port 0 and say which port it got. Where the product
/// can bind port 0 itself, tests give it 0 and read the port back instead of asking here. Ports that are free
/// now can still be taken before the product binds them; these only keep tests from choosing the same port,
/// or one that is in use, as fixed numbers did.
/// </summary>
public static class LoopbackPorts
{
    /// Below the ports the kernel hands out to outgoing connections, so that none of the tests' own connections
    /// takes a port of <see cref="FreeBase"/> between its check and the product's bind.
    const int LowestBase = 10_000;
    static readonly int EphemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0]);
    /// Where the next base search starts: at random per test process, then past every block handed out.
    static int nextBase = Random.Shared.Next(LowestBase, EphemeralLow);

    /// `count` distinct ports the kernel chose: each socket bound to port 0 and held until all are chosen.
    public static int[] Free(int count)
    {
        var sockets = new List<Socket>(count);
        try
        {
            for (var i = 0; i < count; i++)
                sockets.Add(Bind(0) ?? throw new InvalidOperationException("the kernel gave no free port on 127.0.0.1"));
            return sockets.Select(socket => ((IPEndPoint)socket.LocalEndPoint!).Port).ToArray();
        }
        finally
        {
            sockets.ForEach(socket => socket.Dispose());
        }
    }

    /// A port P with P + every offset free on 127.0.0.1 now, for a product that derives its ports from one;
    /// no two calls in a test process return overlapping blocks.
    public static int FreeBase(IReadOnlyCollection<int> offsets)
    {
        var span = offsets.Max() + 1;
        var bases = EphemeralLow - span - LowestBase;
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var candidate = LowestBase + (int)((uint)(Interlocked.Add(ref nextBase, span) - span - LowestBase) % (uint)bases);
            var held = offsets.Select(offset => Bind(candidate + offset)).ToList();
            held.ForEach(socket => socket?.Dispose());
            if (held.All(socket => socket is not null))
                return candidate;
        }
        throw new InvalidOperationException($"no block of {span} ports below {EphemeralLow} on 127.0.0.1 is free");
    }

    /// The base port of an `ssihv up` topology of `nodeCount` nodes: node i's transport listens on base + i and
    /// its control API on base + i + ClusterPlan.httpPortOffset.
    public static int FreeUpBase(int nodeCount) =>
        FreeBase(Enumerable.Range(0, nodeCount).SelectMany(id => new[] { id, id + ClusterPlan.httpPortOffset }).ToList());

    static Socket? Bind(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }
}
