using System.Net.Sockets;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// The connection this node dialled to a peer, after the hello: it carries our requests out, and its receive loop
/// pairs each reply (PageData, Stored, InvalidateAck, ErrorReply) with its request by id (PageData is copied
/// straight from the receive buffer into the caller's destination). When it ends, for whatever reason, every request still pending on it fails.
/// </summary>
public sealed class TcpPeerConnection(PeerLink link, FrameSocket socket)
{
    static readonly byte[] PongFrame = PingFrameOf(WireFrame.Pong);
    public static readonly byte[] PingFrame = PingFrameOf(WireFrame.Ping);

    string lossReason = "";

    public FrameSocket Socket { get; } = socket;
    public bool IsClosed => Socket.IsClosed;
    public long LastPingTicks;

    /// Why this connection ended, for the requests that were waiting on it.
    public string LossReason => Volatile.Read(ref lossReason);

    /// The receive loop gets its own thread: a reply wakes it directly from recv (FrameSocket says why). `cpu`:
    /// TransportOptions.ReplyThreadCpu; a refused pin is logged and the thread runs unpinned (placement is a
    /// matter of speed, never of correctness).
    public void Start(string name, int? cpu, Action<string> log) => new Thread(() =>
    {
        if (cpu is { } pinned)
        {
            try
            {
                Interop.Linux.CpuAffinity.PinCurrentThread(pinned);
            }
            catch (Exception e) when (e is Interop.Linux.LinuxError or ArgumentOutOfRangeException)
            {
                log($"transport: {name}: the receive thread stays unpinned: {e.Message}");
            }
        }
        ReceiveLoop();
    }) { IsBackground = true, Name = name }.Start();

    /// Ends the connection; pending requests fail with `reason`. Idempotent: the first reason stands.
    public void Close(string reason)
    {
        Interlocked.CompareExchange(ref lossReason, reason, "");
        if (Socket.Close())
            link.OnConnectionClosed(this, LossReason);
    }

    void ReceiveLoop()
    {
        var reason = "the peer closed the connection";
        try
        {
            while (true)
            {
                var frame = Socket.Receive();
                if (frame.IsClosed)
                    break;
                if (frame.Malformed is { } error)
                {
                    reason = $"malformed frame from the peer: {error}";
                    Socket.TrySend(WireFrame.EncodeError(0, ErrorCodeModule.malformedFrame, error));
                    break;
                }
                if (!Dispatch(frame))
                {
                    reason = LossReason.Length > 0 ? LossReason : "the peer sent an error for the connection";
                    break;
                }
                Socket.Consume(frame);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            reason = e is SocketException socketError ? socketError.Message : "closed";
        }
        Close(reason);
        Socket.Dispose();
    }

    /// False when the connection must end.
    bool Dispatch(ReceivedFrame frame)
    {
        var buffer = Socket.Buffer.AsSpan(frame.Offset, frame.Length);
        switch (frame.Type)
        {
            case WireFrame.PageData:
            case WireFrame.Stored:
            case WireFrame.InvalidateAck:
                Complete(frame.RequestId, frame.Type, buffer);
                return true;
            case WireFrame.Pong:
                return true;
            case WireFrame.Ping:
                Socket.Send(PongFrame);
                return true;
            default:
                return HandleRare(frame);
        }
    }

    void Complete(ulong requestId, byte type, ReadOnlySpan<byte> frame)
    {
        var slot = link.SlotOf(requestId);
        if (slot is null || !slot.TryClaim(requestId))
            return; // answered after its timeout or cancellation: the caller has moved on
        var page = WireFrame.ReadPageNumber(frame);
        if (type != slot.ExpectedReply || page != slot.Page)
        {
            slot.Fail(link.Unavailable($"answered request {requestId} for page {slot.Page} with {TypeName(type)} of page {page}"));
            return;
        }
        if (type == WireFrame.PageData)
            frame.Slice(WireFrame.PageOffset, WireFrame.PageLength).CopyTo(slot.Destination.Span);
        slot.Succeed();
    }

    /// ErrorReply answers one request (or, with id 0, ends the connection); anything else is not for a requester.
    bool HandleRare(ReceivedFrame frame)
    {
        var decoded = Socket.Decode(frame);
        if (decoded is Frame.DecodeResult.Malformed malformed)
        {
            Interlocked.CompareExchange(ref lossReason, $"malformed frame from the peer: {Frame.DecodeErrorModule.text(malformed.Item)}", "");
            return false;
        }
        var message = ((Frame.DecodeResult.Decoded)decoded).Item1.Message;
        if (message is Message.ErrorReply error)
        {
            var text = ErrorTextModule.value(error.Item2);
            var slot = link.SlotOf(frame.RequestId);
            if (frame.RequestId != 0 && slot is not null && slot.TryClaim(frame.RequestId))
            {
                slot.Fail(new PeerRefusedException(link.Node,
                    $"node {link.Node} at {link.AddressText} refused {TypeName(slot.RequestType)} of page {slot.Page}: {text}"));
                return true;
            }
            if (frame.RequestId != 0)
                return true; // the error for a request that already timed out
            Interlocked.CompareExchange(ref lossReason, $"the peer closed the connection with error {error.Item1}: {text}", "");
            return false;
        }
        Interlocked.CompareExchange(ref lossReason, $"the peer sent {MessageModule.name(message)} on a connection that carries only our requests", "");
        return false;
    }

    public static string TypeName(byte type) => type switch
    {
        WireFrame.FetchPage => "FetchPage",
        WireFrame.PageData => "PageData",
        WireFrame.StorePage => "StorePage",
        WireFrame.Stored => "Stored",
        WireFrame.Invalidate => "Invalidate",
        WireFrame.InvalidateAck => "InvalidateAck",
        _ => $"message type {type}",
    };

    static byte[] PingFrameOf(byte type)
    {
        var frame = new byte[WireFrame.HeaderLength];
        WireFrame.WriteHeader(frame, type, 0, 0);
        return frame;
    }
}
