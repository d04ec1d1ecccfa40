using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Paging;
using SsiHv.Core.Transport;
using SsiHv.Core.Topology;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Tests.Support;
using Xunit;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>
/// Fuzzing the shell's frame reader: valid frames (written by WireFrame and Frame.encode, alone and in streams),
/// mutated by the byte mutator and sent over a real connection on 127.0.0.1 to a FrameSocket. It must hand out
/// frames that lie within its buffer, refuse the rest as Malformed or see the end of the stream, and never
/// throw; every frame it hands out decodes with the core codec to a message that re-encodes to its bytes, or is
/// refused by it (docs/transport.md, "Fuzzing").
/// </summary>
public sealed class FrameSocketFuzzTests
{
    static byte[] Page(WireFrameWriter write)
    {
        var frame = new byte[WireFrame.PageFrameLength];
        write(frame).Fill(0x5A);
        return frame;
    }

    delegate Span<byte> WireFrameWriter(Span<byte> frame);

    static byte[] PageNumberFrame(byte type, ulong id, ulong page)
    {
        var frame = new byte[WireFrame.PageNumberFrameLength];
        WireFrame.WritePageNumberFrame(frame, type, id, page);
        return frame;
    }

    static IReadOnlyList<(string, byte[])> Seeds()
    {
        var nonce = NonceModule.tryCreate(Enumerable.Range(0, NonceModule.length).Select(i => (byte)i).ToArray()).ResultValue;
        var proof = ProofModule.tryCreate(Enumerable.Range(0, ProofModule.length).Select(i => (byte)(255 - i)).ToArray()).ResultValue;
        var hello = WireFrame.Encode(0, Message.NewHello(NodeId.NewNodeId(3), nonce));
        var fetch = PageNumberFrame(WireFrame.FetchPage, 0x10001, 42);
        var stored = PageNumberFrame(WireFrame.Stored, 0x20001, 42);
        var pageData = Page(frame => WireFrame.WritePageFrameHeader(frame, WireFrame.PageData, 0x10001, 42));
        var storePage = Page(frame => WireFrame.WritePageFrameHeader(frame, WireFrame.StorePage, 0x20001, 42));
        var error = WireFrame.EncodeError(7, ErrorCodeModule.unsupportedRequest, "node 2 does not serve Invalidate requests: é€😀");
        var ping = new byte[WireFrame.HeaderLength];
        WireFrame.WriteHeader(ping, WireFrame.Ping, 9, 0);
        var invalidate = WireFrame.Encode(11, Message.NewInvalidate(PageNumber.NewPageNumber(42), NodeId.NewNodeId(1)));
        return
        [
            ("Hello", hello), ("HelloProof", WireFrame.Encode(0, Message.NewHelloProof(proof))), ("FetchPage", fetch),
            ("PageData", pageData), ("StorePage", storePage), ("Stored", stored), ("ErrorReply", error), ("Ping", ping),
            ("Invalidate", invalidate), ("hello then proof", [.. hello, .. WireFrame.Encode(0, Message.NewHelloProof(proof))]),
            ("fetch, ping, page", [.. fetch, .. ping, .. pageData]), ("store, error, stored", [.. storePage, .. error, .. stored]),
        ];
    }

    [Fact]
    public void Mutated_frames_on_a_real_socket_are_read_within_the_buffer_or_refused_never_thrown()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        // A problem is thrown, so FsCheck reports it with the input that made it.
        ByteMutator.Check(Seeds(), mutated => ReadAll(listener, mutated.Bytes) is { } problem ? throw new InvalidOperationException(problem) : true);
    }

    /// Sends `bytes` and closes; reads frames until the end or a refusal. The problem found, if any.
    static string? ReadAll(Socket listener, byte[] bytes)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var frames = new FrameSocket(listener.Accept()) { ReceiveTimeout = TimeSpan.FromSeconds(10) };
        // Smaller than the socket buffers, so the whole input is sent before the reader starts.
        client.Send(bytes);
        client.Shutdown(SocketShutdown.Send);
        var consumed = 0;
        while (true)
        {
            var frame = frames.Receive();
            if (frame.IsClosed || frame.Malformed is not null)
                return null;
            if (frame.Offset < 0 || frame.Length < WireFrame.HeaderLength || frame.Offset + frame.Length > frames.Buffer.Length)
                return $"a frame at {frame.Offset}+{frame.Length} outside the buffer of {frames.Buffer.Length}";
            consumed += frame.Length;
            if (consumed > bytes.Length)
                return $"frames of {consumed} bytes out of {bytes.Length} sent";
            var frameBytes = frames.Buffer.AsSpan(frame.Offset, frame.Length).ToArray();
            if (frames.Decode(frame) is Frame.DecodeResult.Decoded decoded
                && (decoded.consumed != frame.Length || !Frame.encode(decoded.Item1).AsSpan().SequenceEqual(frameBytes)))
                return $"the frame {Convert.ToHexString(frameBytes)} decodes to {decoded.Item1}, which re-encodes differently";
            frames.Consume(frame);
        }
    }
}
