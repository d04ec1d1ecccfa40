using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>Where the next frame sits in <see cref="FrameSocket.Buffer"/>, or why there is none.</summary>
public readonly record struct ReceivedFrame(int Offset, int Length, byte Type, ulong RequestId, string? Malformed)
{
    public bool IsClosed => Length == 0 && Malformed is null;
}

/// <summary>
/// One TCP connection as frames, with blocking socket calls only: each connection has its own receive thread, so
/// a reply wakes the thread that reads it directly, as in the C reference (an async socket adds a hop through
/// the epoll thread and the thread pool: measured 2.4x C's round trip against 1.x; docs/performance.md). The
/// receive buffer is pooled and read with Frame.decode as bytes arrive (each header field is judged by the core
/// as soon as it is there, so a peer makes us hold at most one frame's bytes); whole-frame sends are serialised
/// by a lock and bounded by the socket's send timeout. Counts bytes into the peer's counters once it is known.
/// </summary>
public sealed class FrameSocket : IDisposable
{
    /// Room for many frames, so one receive can bring a burst of replies.
    const int ReceiveBufferLength = 64 * 1024;

    readonly Socket socket;
    readonly object sendLock = new();
    byte[] buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferLength);
    int start, end;
    int closed;
    PeerCounters? counters;
    long unattributedSent, unattributedReceived;
    long lastReceivedTicks;

    public FrameSocket(Socket socket)
    {
        this.socket = socket;
        socket.NoDelay = true;
        Remote = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        lastReceivedTicks = Environment.TickCount64;
    }

    public IPEndPoint Remote { get; }
    public byte[] Buffer => buffer;
    public bool IsClosed => Volatile.Read(ref closed) != 0;
    /// Environment.TickCount64 when bytes last arrived: the keep-alive's measure of silence.
    public long LastReceivedTicks => Volatile.Read(ref lastReceivedTicks);

    /// Bounds every later receive (zero: wait as long as it takes); a receive past it throws SocketException TimedOut.
    public TimeSpan ReceiveTimeout
    {
        set => socket.ReceiveTimeout = Milliseconds(value);
    }

    /// Bounds every later send: a peer that stops reading cannot hold a sender longer.
    public TimeSpan SendTimeout
    {
        set => socket.SendTimeout = Milliseconds(value);
    }

    static int Milliseconds(TimeSpan value) => value <= TimeSpan.Zero ? 0 : (int)Math.Max(1, Math.Min(value.TotalMilliseconds, int.MaxValue));

    /// From now on bytes count for this peer (the hello's bytes too).
    public void Attribute(PeerCounters peer)
    {
        counters = peer;
        Interlocked.Add(ref peer.BytesSent, Interlocked.Exchange(ref unattributedSent, 0));
        Interlocked.Add(ref peer.BytesReceived, Interlocked.Exchange(ref unattributedReceived, 0));
    }

    /// Blocks until the next whole frame is buffered, the peer closes (IsClosed), or the header is refused by
    /// Frame.decode (Malformed). The frame stays in the buffer until <see cref="Consume"/>.
    public ReceivedFrame Receive()
    {
        while (true)
        {
            var available = end - start;
            var header = Frame.decode(new ReadOnlySpan<byte>(buffer, start, Math.Min(available, WireFrame.HeaderLength)));
            if (header is Frame.DecodeResult.Malformed malformed)
                return new ReceivedFrame(start, 0, 0, 0, Frame.DecodeErrorModule.text(malformed.Item));
            var length = WireFrame.HeaderLength;
            if (available >= WireFrame.HeaderLength)
            {
                length += header is Frame.DecodeResult.NeedMore more ? more.Item : 0;
                if (available >= length)
                    return new ReceivedFrame(start, length, buffer[start + WireFrame.TypeOffset],
                        BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(start + WireFrame.RequestIdOffset)), null);
            }
            if (!Fill(length))
                return default;
        }
    }

    public void Consume(ReceivedFrame frame) => start = frame.Offset + frame.Length;

    /// Decodes a whole received frame with the core codec (the rare messages: hello, errors, invalidations).
    public Frame.DecodeResult Decode(ReceivedFrame frame) => Frame.decode(new ReadOnlySpan<byte>(buffer, frame.Offset, frame.Length));

    /// Receives at least once, making room for `frameLength` bytes from `start`; false when the peer closed.
    bool Fill(int frameLength)
    {
        if (start == end)
            start = end = 0;
        else if (buffer.Length - start < frameLength)
        {
            System.Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        var received = socket.Receive(buffer.AsSpan(end), SocketFlags.None);
        if (received == 0)
            return false;
        end += received;
        Volatile.Write(ref lastReceivedTicks, Environment.TickCount64);
        if (counters is { } peer)
            Interlocked.Add(ref peer.BytesReceived, received);
        else
            Interlocked.Add(ref unattributedReceived, received);
        return true;
    }

    /// Sends whole frames; frames of concurrent callers never interleave. Throws SocketException (e.g. TimedOut
    /// when the peer stopped reading for the send timeout) or ObjectDisposedException once closed.
    public void Send(ReadOnlySpan<byte> frames)
    {
        lock (sendLock)
        {
            var remaining = frames;
            while (!remaining.IsEmpty)
                remaining = remaining[socket.Send(remaining, SocketFlags.None)..];
        }
        if (counters is { } peer)
            Interlocked.Add(ref peer.BytesSent, frames.Length);
        else
            Interlocked.Add(ref unattributedSent, frames.Length);
    }

    /// A parting message to a peer we are closing on: it may already be gone, which changes nothing.
    public void TrySend(ReadOnlySpan<byte> frame)
    {
        try
        {
            Send(frame);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// Idempotent; true for the call that closed it. Wakes a thread blocked in Receive (it sees the close).
    public bool Close()
    {
        if (Interlocked.Exchange(ref closed, 1) != 0)
            return false;
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Not connected any more: nothing to shut down.
        }
        socket.Dispose();
        return true;
    }

    /// Returns the receive buffer; only from the thread that receives, after its last Receive.
    public void Dispose()
    {
        Close();
        var rented = Interlocked.Exchange(ref buffer, []);
        if (rented.Length > 0)
            ArrayPool<byte>.Shared.Return(rented);
    }
}
