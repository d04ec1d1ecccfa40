using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// Dials a peer and runs the hello as initiator: the connection the TCP transport sends its requests on, and the
/// RDMA transport's side channel (docs/transport.md, "RDMA"), start the same way.
/// </summary>
public static class AuthenticatedDial
{
    /// Connect plus hello within options.ConnectTimeout; the peer must authenticate as `node`. Throws
    /// PeerUnavailableException naming node, address and why.
    public static FrameSocket Connect(IPEndPoint address, int node, TransportOptions options)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Linux bounds a blocking connect by the send timeout (SO_SNDTIMEO).
        socket.SendTimeout = (int)options.ConnectTimeout.TotalMilliseconds;
        try
        {
            socket.Connect(address);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw Unavailable(node, address, e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.InProgress
                ? $"no connection within the connect timeout ({options.ConnectTimeout.TotalSeconds:0.###} s)"
                : $"cannot connect: {e.Message}", e);
        }
        var frames = new FrameSocket(socket);
        int peer;
        try
        {
            peer = HelloExchange.Run(frames, HelloRole.Initiator, options.Self, options.Secret, options.ConnectTimeout);
        }
        catch (Exception e) when (e is HelloFailedException or SocketException or ObjectDisposedException)
        {
            frames.Dispose();
            throw Unavailable(node, address, e is HelloFailedException ? $"hello failed: {e.Message}" : $"the connection broke during the hello: {e.Message}", e);
        }
        if (peer != node)
        {
            frames.Dispose();
            throw Unavailable(node, address, $"the peer there authenticated as node {peer}, not node {node}");
        }
        return frames;
    }

    public static PeerUnavailableException Unavailable(int node, IPEndPoint address, string what, Exception? inner = null) =>
        new(node, $"node {node} at {address}: {what}", inner);
}
