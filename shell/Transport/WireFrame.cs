using System.Buffers.Binary;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport;

/// <summary>
/// The hot-path half of the codec: the request and reply frames of page traffic are written straight into pooled
/// buffers (a page is copied once, from guest memory or the page service into the send buffer), instead of
/// through <c>Frame.encode</c>'s fresh array. The layout is <c>core/Transport/Frame.fs</c>'s; the tests check
/// that these bytes equal <c>Frame.encode</c>'s for every message written here. Reading is always Frame.decode.
/// </summary>
public static class WireFrame
{
    public const byte Hello = 1, HelloProof = 2, FetchPage = 3, PageData = 4, StorePage = 5, Stored = 6,
        Invalidate = 7, InvalidateAck = 8, ErrorReply = 9, Ping = 10, Pong = 11;

    public const int HeaderLength = 20;
    public const int PageLength = 4096;
    public const int PageNumberLength = 8;
    public const int NodeIdLength = 4;
    /// FetchPage, Stored, InvalidateAck: header + page number.
    public const int PageNumberFrameLength = HeaderLength + PageNumberLength;
    /// Invalidate: header + page number + requester.
    public const int InvalidateFrameLength = HeaderLength + PageNumberLength + NodeIdLength;
    /// PageData, StorePage: header + page number + page.
    public const int PageFrameLength = HeaderLength + PageNumberLength + PageLength;
    public const int TypeOffset = 5, RequestIdOffset = 8;

    static WireFrame()
    {
        // The constants above are the core's; a change there must not go unnoticed here.
        if (Frame.headerLength != HeaderLength || Frame.maxPayloadLength < PageNumberLength + PageLength)
            throw new InvalidOperationException("WireFrame's layout no longer matches core/Transport/Frame.fs");
    }

    public static void WriteHeader(Span<byte> frame, byte type, ulong requestId, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(frame, Frame.magic);
        frame[4] = Frame.version;
        frame[TypeOffset] = type;
        frame[6] = 0;
        frame[7] = 0;
        BinaryPrimitives.WriteUInt64LittleEndian(frame[RequestIdOffset..], requestId);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[16..], (uint)payloadLength);
    }

    /// FetchPage, Stored, InvalidateAck: header + page number. Returns the frame length.
    public static int WritePageNumberFrame(Span<byte> frame, byte type, ulong requestId, ulong page)
    {
        WriteHeader(frame, type, requestId, PageNumberLength);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[HeaderLength..], page);
        return PageNumberFrameLength;
    }

    /// PageData, StorePage: header + page number; the caller puts the page at <see cref="PageOffset"/>.
    public static Span<byte> WritePageFrameHeader(Span<byte> frame, byte type, ulong requestId, ulong page)
    {
        WriteHeader(frame, type, requestId, PageNumberLength + PageLength);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[HeaderLength..], page);
        return frame.Slice(PageOffset, PageLength);
    }

    public const int PageOffset = HeaderLength + PageNumberLength;

    /// Invalidate(page, requester). Returns the frame length.
    public static int WriteInvalidateFrame(Span<byte> frame, ulong requestId, ulong page, int requester)
    {
        WriteHeader(frame, Invalidate, requestId, PageNumberLength + NodeIdLength);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[HeaderLength..], page);
        BinaryPrimitives.WriteInt32LittleEndian(frame[PageOffset..], requester);
        return InvalidateFrameLength;
    }

    /// The requester of an Invalidate frame (whose length the header check fixed).
    public static int ReadRequester(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadInt32LittleEndian(frame[PageOffset..]);

    public static ulong ReadPageNumber(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt64LittleEndian(frame[HeaderLength..]);

    /// The rare frames (hello, errors, side-channel replies) go through the core encoder.
    public static byte[] Encode(ulong requestId, Message message) => Frame.encode(new Envelope(requestId, message));

    public static byte[] EncodeError(ulong requestId, ushort code, string text) =>
        Encode(requestId, Message.NewErrorReply(code, ErrorTextModule.ofString(text)));
}
