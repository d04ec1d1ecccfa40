using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Transport;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Tests.Transport;

/// <summary>
/// A peer whose behaviour after the hello the test writes (never answer, hold requests back, ...): a real listening
/// socket on 127.0.0.1 and the real hello, then `afterHello` owns the connection.
/// </summary>
public sealed class ScriptedPeer : IAsyncDisposable
{
    readonly Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    readonly CancellationTokenSource stop = new();
    readonly Task serving;

    public ScriptedPeer(int node, Func<FrameSocket, CancellationToken, Task> afterHello, bool hello = true)
    {
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        Address = listener.LocalEndPoint!.ToString()!;
        serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptAsync(stop.Token);
            using var frames = new FrameSocket(socket);
            if (hello)
                await HelloExchange.RunAsync(frames, HelloRole.Responder, node, TransportTestSupport.ClusterSecret, TimeSpan.FromSeconds(5), stop.Token);
            await afterHello(frames, stop.Token);
        });
    }

    public string Address { get; }

    /// Waits until the script is done (or fails) for at most `timeout`.
    public Task Completion(TimeSpan timeout) => serving.WaitAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Dispose();
        await serving.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// Keeps reading (and dropping) whatever comes, so the requester's sends never block, and never answers.
    public static async Task NeverAnswer(FrameSocket frames, CancellationToken stop)
    {
        while (true)
        {
            var frame = await frames.ReceiveAsync(stop);
            if (frame.IsClosed || frame.Malformed is not null)
                return;
            frames.Consume(frame);
        }
    }
}
