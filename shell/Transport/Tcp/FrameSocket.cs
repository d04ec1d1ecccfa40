using System.Buffers;
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
/// One TCP connection as frames: a pooled receive buffer read with Frame.decode as bytes arrive (each header field
/// is judged by the core as soon as it is there, so a peer can make us hold at most one frame's bytes), and
/// whole-frame sends serialised by a lock. Counts bytes into the peer's counters once the hello named the peer.
/// </summary>
public sealed class FrameSocket : IDisposable
{
    /// Room for many frames, so one receive can bring a burst of replies.
    const int ReceiveBufferLength = 64 * 1024;

    readonly Socket socket;
    readonly SemaphoreSlim sendLock = new(1, 1);
    readonly CancellationTokenSource closing = new();
    byte[] buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferLength);
    int start, end;
    int closed;
    PeerCounters? counters;
    long unattributedSent, unattributedReceived;

    public FrameSocket(Socket socket)
    {
        this.socket = socket;
        socket.NoDelay = true;
        Remote = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        LastReceivedTicks = Environment.TickCount64;
    }

    public IPEndPoint Remote { get; }
    public byte[] Buffer => buffer;
    public bool IsClosed => Volatile.Read(ref closed) != 0;
    /// Environment.TickCount64 when bytes last arrived: the keep-alive's measure of silence.
    public long LastReceivedTicks { get; private set; }
    public CancellationToken Closing => closing.Token;

    /// From now on bytes count for this peer (the hello's bytes too).
    public void Attribute(PeerCounters peer)
    {
        counters = peer;
        Interlocked.Add(ref peer.BytesSent, Interlocked.Exchange(ref unattributedSent, 0));
        Interlocked.Add(ref peer.BytesReceived, Interlocked.Exchange(ref unattributedReceived, 0));
    }

    /// The next frame's header is checked by Frame.decode as its bytes come in; the payload length it allows is
    /// then awaited in full. The frame stays in the buffer until <see cref="Consume"/>.
    public async ValueTask<ReceivedFrame> ReceiveAsync(CancellationToken cancellation)
    {
        while (true)
        {
            var available = end - start;
            var header = Frame.decode(new ReadOnlySpan<byte>(buffer, start, Math.Min(available, WireFrame.HeaderLength)));
            if (header is Frame.DecodeResult.Malformed malformed)
                return new ReceivedFrame(start, 0, 0, 0, Frame.DecodeErrorModule.text(malformed.Item));
            if (available >= WireFrame.HeaderLength)
            {
                var length = WireFrame.HeaderLength + (header is Frame.DecodeResult.NeedMore more ? more.Item : 0);
                if (available >= length)
                    return new ReceivedFrame(start, length, buffer[start + WireFrame.TypeOffset],
                        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(start + WireFrame.RequestIdOffset)), null);
                if (!await FillAsync(length, cancellation))
                    return default;
            }
            else if (!await FillAsync(WireFrame.HeaderLength, cancellation))
                return default;
        }
    }

    public void Consume(ReceivedFrame frame) => start = frame.Offset + frame.Length;

    /// Decodes a whole received frame with the core codec (the rare messages: hello, errors, invalidations).
    public Frame.DecodeResult Decode(ReceivedFrame frame) => Frame.decode(new ReadOnlySpan<byte>(buffer, frame.Offset, frame.Length));

    /// Receives until `frameLength` bytes from `start` are buffered; false when the peer closed.
    async ValueTask<bool> FillAsync(int frameLength, CancellationToken cancellation)
    {
        if (start == end)
            start = end = 0;
        else if (buffer.Length - start < frameLength)
        {
            System.Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        while (end - start < frameLength)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, cancellation);
            if (received == 0)
                return false;
            end += received;
            LastReceivedTicks = Environment.TickCount64;
            if (counters is { } peer)
                Interlocked.Add(ref peer.BytesReceived, received);
            else
                Interlocked.Add(ref unattributedReceived, received);
        }
        return true;
    }

    /// Sends one or more whole frames; frames of concurrent callers never interleave. Waiting for the lock is
    /// bounded by `timeout`; a send stuck on a peer that stopped reading ends when the connection is closed.
    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, TimeSpan timeout, CancellationToken cancellation)
    {
        if (!sendLock.Wait(0) && !await sendLock.WaitAsync(timeout, cancellation))
            throw new TimeoutException($"the connection to {Remote} did not take a frame within {timeout.TotalSeconds:0.###} s (sends blocked)");
        try
        {
            var remaining = frames;
            while (!remaining.IsEmpty)
            {
                var sent = await socket.SendAsync(remaining, SocketFlags.None, closing.Token);
                remaining = remaining[sent..];
            }
        }
        finally
        {
            sendLock.Release();
        }
        if (counters is { } peer)
            Interlocked.Add(ref peer.BytesSent, frames.Length);
        else
            Interlocked.Add(ref unattributedSent, frames.Length);
    }

    /// Idempotent; true for the call that closed it.
    public bool Close()
    {
        if (Interlocked.Exchange(ref closed, 1) != 0)
            return false;
        try
        {
            closing.Cancel();
        }
        catch (AggregateException)
        {
            // A callback registered on Closing failed; the socket must be closed regardless.
        }
        socket.Dispose();
        return true;
    }

    /// Returns the receive buffer; only after the receive loop has ended.
    public void Dispose()
    {
        Close();
        var rented = Interlocked.Exchange(ref buffer, []);
        if (rented.Length > 0)
            ArrayPool<byte>.Shared.Return(rented);
        // `closing` and `sendLock` stay undisposed: late senders may still touch them, and neither holds a handle.
    }
}
