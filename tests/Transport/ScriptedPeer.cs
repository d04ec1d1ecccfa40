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

    FrameSocket? connection;

    /// `afterHello` runs on its own thread with the blocking FrameSocket the transport itself uses.
    public ScriptedPeer(int node, Action<FrameSocket> afterHello, bool hello = true)
    {
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        Address = listener.LocalEndPoint!.ToString()!;
        serving = Task.Factory.StartNew(() =>
        {
            using var socket = listener.Accept();
            using var frames = new FrameSocket(socket);
            Volatile.Write(ref connection, frames);
            if (stop.IsCancellationRequested)
                return;
            if (hello)
                HelloExchange.Run(frames, HelloRole.Responder, node, TransportTestSupport.ClusterSecret, TimeSpan.FromSeconds(5));
            afterHello(frames);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public string Address { get; }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        // Wakes the script's blocking calls: an accept by a connection, a receive by closing the socket.
        if (Volatile.Read(ref connection) is null)
        {
            using var wake = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            wake.Connect(listener.LocalEndPoint!);
        }
        Volatile.Read(ref connection)?.Close();
        listener.Dispose();
        await serving.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// Keeps reading (and dropping) whatever comes, so the requester's sends never block, and never answers.
    public static void NeverAnswer(FrameSocket frames)
    {
        while (true)
        {
            var frame = frames.Receive();
            if (frame.IsClosed || frame.Malformed is not null)
                return;
            frames.Consume(frame);
        }
    }
}
