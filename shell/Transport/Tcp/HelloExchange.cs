using System.Security.Cryptography;
using Microsoft.FSharp.Collections;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>The hello was refused (by us or the peer), or the bytes were not frames; the text says which and why.</summary>
public sealed class HelloFailedException(string message) : Exception(message);

/// <summary>
/// Runs the core hello state machine (core/Transport/Hello.fs) over a fresh connection: a CSPRNG nonce, every
/// received frame fed to Hello.step, its Send actions written, until Accept (returns the authenticated peer id)
/// or Close (throws HelloFailedException). The caller bounds it with a timeout through `cancellation`.
/// </summary>
public static class HelloExchange
{
    public static async Task<int> RunAsync(FrameSocket socket, HelloRole role, int self, ClusterSecret secret,
        TimeSpan sendTimeout, CancellationToken cancellation)
    {
        var nonce = NonceModule.tryCreate(RandomNumberGenerator.GetBytes(NonceModule.length)).ResultValue;
        var (state, actions) = Hello.start(new HelloConfig(role, self, secret, nonce));
        while (true)
        {
            if (await PerformAsync(socket, actions, sendTimeout, cancellation) is { } peer)
                return peer;
            var frame = await socket.ReceiveAsync(cancellation);
            if (frame.IsClosed)
                throw new HelloFailedException($"the connection was closed during the hello ({Describe(state)})");
            if (frame.Malformed is { } malformedHeader)
                throw await RefuseMalformedAsync(socket, malformedHeader, sendTimeout);
            var decoded = socket.Decode(frame);
            socket.Consume(frame);
            if (decoded is Frame.DecodeResult.Malformed malformed)
                throw await RefuseMalformedAsync(socket, Frame.DecodeErrorModule.text(malformed.Item), sendTimeout);
            var envelope = ((Frame.DecodeResult.Decoded)decoded).Item1;
            (state, actions) = Hello.step(state, HelloEvent.NewReceived(envelope.Message));
        }
    }

    /// Sends what the machine says; the peer id on Accept, null to keep receiving; throws on Close.
    static async ValueTask<int?> PerformAsync(FrameSocket socket, FSharpList<HelloAction> actions, TimeSpan sendTimeout, CancellationToken cancellation)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case HelloAction.Send send:
                    await socket.SendAsync(WireFrame.Encode(0, send.Item), sendTimeout, cancellation);
                    break;
                case HelloAction.Accept accept:
                    return accept.peer;
                case HelloAction.Close close:
                    throw new HelloFailedException(close.reason);
            }
        }
        return null;
    }

    static async Task<HelloFailedException> RefuseMalformedAsync(FrameSocket socket, string error, TimeSpan sendTimeout)
    {
        await TrySendAsync(socket, WireFrame.EncodeError(0, ErrorCodeModule.malformedFrame, error), sendTimeout);
        return new HelloFailedException($"malformed frame during the hello: {error}");
    }

    /// A parting message to a peer we are closing on: it may already be gone, which changes nothing.
    public static async Task TrySendAsync(FrameSocket socket, byte[] frame, TimeSpan sendTimeout)
    {
        try
        {
            using var timeout = new CancellationTokenSource(sendTimeout);
            await socket.SendAsync(frame, sendTimeout, timeout.Token);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
        }
    }

    static string Describe(HelloState state) => state switch
    {
        HelloState.AwaitingHello => "waiting for the peer's Hello",
        HelloState.AwaitingProof proof => $"waiting for node {proof.peer}'s HelloProof",
        _ => "finished",
    };
}
