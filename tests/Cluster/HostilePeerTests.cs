using System.Net.Sockets;
using System.Security.Cryptography;
using SsiHv.Core.Topology;
using SsiHv.Core.Transport;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Cluster;

/// <summary>
/// While a two-node cluster runs the probe guest, strangers connect to the memory node's transport port: one
/// sends garbage, one says hello with a proof made from the wrong secret. Each is disconnected and logged by
/// the node host, and the guest's memtest, which pages through that same node, passes untouched.
/// </summary>
public sealed class HostilePeerTests(ITestOutputHelper output)
{
    static readonly TimeSpan Patience = TestScale.Seconds(10);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public async Task Garbage_and_a_wrong_hmac_are_cut_off_without_touching_the_guest()
    {
        using var cluster = new NodeHostProcesses();
        try
        {
            var boot = await cluster.StartTwoNodeProbeAsync();
            Poll.Until($"the guest paging more than {TestScale.Pages(1000)} pages to node 1", TestScale.Seconds(180),
                () => cluster.StoredAt(boot, 1) > TestScale.Pages(1000), () => $"{cluster.StoredAt(boot, 1)} pages on node 1");

            var logBefore = cluster.Stderr(1).Length;
            var memoryNodeTransport = cluster.TransportPort(1);
            AssertClosedByPeer(SendGarbage(memoryNodeTransport));
            AssertClosedByPeer(HelloWithWrongSecret(memoryNodeTransport));
            Poll.Until("node 1 logging a line for each stranger", Patience,
                () => cluster.Stderr(1).Length > logBefore && cluster.Stderr(1)[logBefore..].Split('\n').Count(l => l.Contains("127.0.0.1")) >= 2,
                () => $"node 1's log since:\n{cluster.Stderr(1)[logBefore..]}");

            var vm = await cluster.Client.WaitVmStoppedAsync(boot, TestScale.Seconds(300), CancellationToken.None);
            Assert.True(vm.ExitCode == 0, $"the guest did not power off: {vm.Reason}");
            MemtestVerdict.AssertEveryNodeVerified(cluster.Stdout(0), nodeCount: 2);
            Assert.Equal("active", (await cluster.Client.ClusterAsync(boot, CancellationToken.None)).Members.Single(m => m.Id == 1).State);
        }
        finally
        {
            output.WriteLine(cluster.ToString());
        }
    }

    static Socket Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Patience.TotalMilliseconds };
        socket.Connect("127.0.0.1", port);
        return socket;
    }

    static Socket SendGarbage(int port)
    {
        var socket = Connect(port);
        socket.Send(RandomNumberGenerator.GetBytes(64));
        return socket;
    }

    /// A well-formed hello from "node 7" whose proof is an HMAC under a secret the cluster does not use.
    static Socket HelloWithWrongSecret(int port)
    {
        var socket = Connect(port);
        var nonce = NonceModule.tryCreate(RandomNumberGenerator.GetBytes(NonceModule.length)).ResultValue;
        socket.Send(Frame.encode(new Envelope(0UL, Message.NewHello(NodeId.NewNodeId(7), nonce))));
        var theirs = ReadFrame(socket);
        var peerNonce = theirs.Message is Message.Hello hello ? hello.nonce : throw new InvalidOperationException($"expected Hello, got {theirs.Message}");
        var wrong = ClusterSecretModule.tryCreate(RandomNumberGenerator.GetBytes(32)).ResultValue;
        socket.Send(Frame.encode(new Envelope(0UL, Message.NewHelloProof(Hello.proof(wrong, HelloRole.Initiator, NodeId.NewNodeId(7), peerNonce, nonce)))));
        return socket;
    }

    static Envelope ReadFrame(Socket socket)
    {
        var buffer = new List<byte>();
        var chunk = new byte[Frame.maxFrameLength];
        while (true)
        {
            var decoded = Frame.decode(buffer.ToArray());
            if (decoded is Frame.DecodeResult.Decoded frame)
                return frame.Item1;
            if (decoded is Frame.DecodeResult.Malformed bad)
                throw new InvalidOperationException(Frame.DecodeErrorModule.text(bad.Item));
            var read = socket.Receive(chunk);
            if (read == 0)
                throw new InvalidOperationException("the node closed the connection before its hello");
            buffer.AddRange(chunk.AsSpan(0, read).ToArray());
        }
    }

    /// Whatever the node sends before closing (an ErrorReply), the connection must end: a read returns 0.
    static void AssertClosedByPeer(Socket socket)
    {
        using (socket)
        {
            var chunk = new byte[Frame.maxFrameLength];
            var deadline = DateTime.UtcNow + Patience;
            while (DateTime.UtcNow < deadline)
            {
                int read;
                try
                {
                    read = socket.Receive(chunk);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                    return;
                }
                if (read == 0)
                    return;
            }
            Assert.Fail("the node kept the stranger's connection open");
        }
    }
}
