using System.Net.Sockets;
using System.Security.Cryptography;
using SsiHv.Core.Topology;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// The hello was refused (by us or the peer), timed out, or the bytes were not frames; the text says which and
/// why, `Kind` the same for counting (an accepted connection's failures are counted and logged by kind).
/// </summary>
public sealed class HelloFailedException(IncomingRefusal kind, string message) : Exception(message)
{
    public IncomingRefusal Kind { get; } = kind;
}

/// <summary>
/// Runs the core hello state machine (core/Transport/Hello.fs) over a fresh connection, on the connection's own
/// thread: a CSPRNG nonce, every received frame fed to Hello.step, its Send actions written, until Accept
/// (returns the authenticated peer id) or Close (throws HelloFailedException). The whole hello must finish
/// within `timeout`, however slowly the peer drips its bytes.
/// </summary>
public static class HelloExchange
{
    public static int Run(FrameSocket socket, HelloRole role, int self, ClusterSecret secret, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        socket.SendTimeout = timeout;
        var nonce = NonceModule.tryCreate(RandomNumberGenerator.GetBytes(NonceModule.length)).ResultValue;
        var (state, actions) = Hello.start(new HelloConfig(role, NodeId.NewNodeId(self), secret, nonce));
        while (true)
        {
            foreach (var action in actions)
            {
                switch (action)
                {
                    case HelloAction.Send send:
                        socket.Send(WireFrame.Encode(0, send.Item));
                        break;
                    case HelloAction.Accept accept:
                        return accept.peer.Value;
                    case HelloAction.Close close:
                        throw new HelloFailedException(IncomingRefusal.HelloRejected, close.reason);
                }
            }
            var remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
                throw TimedOut(timeout, state);
            socket.ReceiveTimeout = TimeSpan.FromMilliseconds(remaining);
            ReceivedFrame frame;
            try
            {
                frame = socket.Receive();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                throw TimedOut(timeout, state);
            }
            if (frame.IsClosed)
                throw new HelloFailedException(IncomingRefusal.HelloAbandoned, $"the peer closed the connection during the hello ({Describe(state)})");
            if (frame.Malformed is { } malformedHeader)
                throw RefuseMalformed(socket, malformedHeader);
            var decoded = socket.Decode(frame);
            socket.Consume(frame);
            if (decoded is Frame.DecodeResult.Malformed malformed)
                throw RefuseMalformed(socket, Frame.DecodeErrorModule.text(malformed.Item));
            (state, actions) = Hello.step(state, HelloEvent.NewReceived(((Frame.DecodeResult.Decoded)decoded).Item1.Message));
        }
    }

    static HelloFailedException TimedOut(TimeSpan timeout, HelloState state) =>
        new(IncomingRefusal.HelloTimedOut, $"the hello did not finish within the connect timeout ({timeout.TotalSeconds:0.###} s; {Describe(state)})");

    static HelloFailedException RefuseMalformed(FrameSocket socket, string error)
    {
        socket.TrySend(WireFrame.EncodeError(0, ErrorCodeModule.malformedFrame, error));
        return new HelloFailedException(IncomingRefusal.HelloMalformed, $"malformed frame during the hello: {error}");
    }

    static string Describe(HelloState state) => state switch
    {
        HelloState.AwaitingHello => "waiting for the peer's Hello",
        HelloState.AwaitingProof proof => $"waiting for node {proof.peer}'s HelloProof",
        _ => "finished",
    };
}
