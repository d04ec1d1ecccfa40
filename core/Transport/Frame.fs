/// The frame every message travels in (docs/design.md §4.6; docs/transport.md has the layout table): a 20-byte
/// little-endian header (magic, version, message type, reserved, request id, payload length) and the payload.
///
/// `decode` never throws: each header field is checked as soon as its bytes are there, the payload length is
/// checked against `maxPayloadLength` and the message type's own size before the payload is waited for, and
/// nothing is read outside the span. So a reader holds at most `maxFrameLength` bytes per connection.
module SsiHv.Core.Transport.Frame

open System
open System.Buffers.Binary
open System.Text
open System.Text.Unicode
open SsiHv.Core.Paging
open SsiHv.Core.Topology

/// "SSIH" as the first four bytes on the wire.
let magic = 0x48495353u
let version = 1uy
let headerLength = 20
/// A page plus room for its metadata: the largest payload today is PageData (page number + 4096 bytes).
let maxPayloadLength = PageBytes.length + 64
let maxFrameLength = headerLength + maxPayloadLength

/// Why bytes are not a frame: the field, its offset from the start of the frame, what was expected there.
type DecodeError = { Field: string; Offset: int; Expected: string; Found: string }

module DecodeError =
    let text (e: DecodeError) = e.Field + " at offset " + string e.Offset + ": expected " + e.Expected + ", found " + e.Found

type DecodeResult =
    /// At least this many more bytes must arrive before the frame can be decoded or refused.
    | NeedMore of int
    /// The frame, and how many bytes of the input it took (the next frame starts there).
    | Decoded of Envelope * consumed: int
    /// The connection cannot be trusted past this point: send ErrorReply malformedFrame and close.
    | Malformed of DecodeError

let private typeCode (message: Message) =
    match message with
    | Hello _ -> 1uy
    | HelloProof _ -> 2uy
    | FetchPage _ -> 3uy
    | PageData _ -> 4uy
    | StorePage _ -> 5uy
    | Stored _ -> 6uy
    | Invalidate _ -> 7uy
    | InvalidateAck _ -> 8uy
    | ErrorReply _ -> 9uy
    | Ping -> 10uy
    | Pong -> 11uy
    | RdmaConnect _ -> 12uy
    | RdmaAccept _ -> 13uy
    | LocatePage _ -> 14uy
    | PageLocation _ -> 15uy

let private highestTypeCode = 15uy
let private pageNumberLength = 8
let private nodeIdLength = 4
let private errorCodeLength = 2
/// QP number, PSN, LID, GID, MTU.
let private endpointLength = 4 + 4 + 2 + Gid.length + 1
/// Address, rkey, length.
let private regionLength = 8 + 4 + 8

/// The payload length a message type allows, as (least, most); only ErrorReply's varies.
let private payloadBounds (code: byte) =
    match code with
    | 1uy -> nodeIdLength + Nonce.length, nodeIdLength + Nonce.length
    | 2uy -> Proof.length, Proof.length
    | 3uy | 6uy | 8uy | 14uy -> pageNumberLength, pageNumberLength
    | 4uy | 5uy -> pageNumberLength + PageBytes.length, pageNumberLength + PageBytes.length
    | 7uy -> pageNumberLength + nodeIdLength, pageNumberLength + nodeIdLength
    | 9uy -> errorCodeLength, errorCodeLength + ErrorText.maxBytes
    | 12uy -> endpointLength, endpointLength
    | 13uy -> endpointLength + 2 * regionLength, endpointLength + 2 * regionLength
    | 15uy -> pageNumberLength + 8, pageNumberLength + 8
    | _ -> 0, 0

let private payloadLength (message: Message) =
    match message with
    | ErrorReply(_, ErrorText text) -> errorCodeLength + Encoding.UTF8.GetByteCount text
    | _ -> fst (payloadBounds (typeCode message))

let private writeEndpoint (e: RdmaEndpoint) (payload: Span<byte>) =
    BinaryPrimitives.WriteUInt32LittleEndian(payload, e.QueuePair)
    BinaryPrimitives.WriteUInt32LittleEndian(payload.Slice 4, e.PacketSequence)
    BinaryPrimitives.WriteUInt16LittleEndian(payload.Slice 8, e.Lid)
    let (Gid gid) = e.Gid
    gid.AsSpan().CopyTo(payload.Slice 10)
    payload.[10 + Gid.length] <- e.Mtu

let private writeRegion (r: RdmaRegion) (payload: Span<byte>) =
    BinaryPrimitives.WriteUInt64LittleEndian(payload, r.Address)
    BinaryPrimitives.WriteUInt32LittleEndian(payload.Slice 8, r.Key)
    BinaryPrimitives.WriteUInt64LittleEndian(payload.Slice 12, r.Length)

let private writePayload (message: Message) (payload: Span<byte>) =
    match message with
    | Hello(node, Nonce nonce) ->
        BinaryPrimitives.WriteInt32LittleEndian(payload, node.Value)
        nonce.AsSpan().CopyTo(payload.Slice nodeIdLength)
    | HelloProof(Proof proof) -> proof.AsSpan().CopyTo payload
    | FetchPage(PageNumber p) | Stored(PageNumber p) | InvalidateAck(PageNumber p) | LocatePage(PageNumber p) ->
        BinaryPrimitives.WriteUInt64LittleEndian(payload, p)
    | PageData(PageNumber p, PageBytes bytes) | StorePage(PageNumber p, PageBytes bytes) ->
        BinaryPrimitives.WriteUInt64LittleEndian(payload, p)
        bytes.AsSpan().CopyTo(payload.Slice pageNumberLength)
    | Invalidate(PageNumber p, requester) ->
        BinaryPrimitives.WriteUInt64LittleEndian(payload, p)
        BinaryPrimitives.WriteInt32LittleEndian(payload.Slice pageNumberLength, requester.Value)
    | ErrorReply(code, ErrorText text) ->
        BinaryPrimitives.WriteUInt16LittleEndian(payload, code)
        Encoding.UTF8.GetBytes(text.AsSpan(), payload.Slice errorCodeLength) |> ignore
    | Ping | Pong -> ()
    | RdmaConnect endpoint -> writeEndpoint endpoint payload
    | RdmaAccept(endpoint, pages, versions) ->
        writeEndpoint endpoint payload
        writeRegion pages (payload.Slice endpointLength)
        writeRegion versions (payload.Slice(endpointLength + regionLength))
    | PageLocation(PageNumber p, slot) ->
        BinaryPrimitives.WriteUInt64LittleEndian(payload, p)
        BinaryPrimitives.WriteInt64LittleEndian(payload.Slice pageNumberLength, slot)

let encode (frame: Envelope) : byte[] =
    let length = payloadLength frame.Message
    let bytes = Array.zeroCreate (headerLength + length)
    let span = bytes.AsSpan()
    BinaryPrimitives.WriteUInt32LittleEndian(span, magic)
    span.[4] <- version
    span.[5] <- typeCode frame.Message
    BinaryPrimitives.WriteUInt64LittleEndian(span.Slice 8, frame.RequestId)
    BinaryPrimitives.WriteUInt32LittleEndian(span.Slice 16, uint32 length)
    writePayload frame.Message (span.Slice headerLength)
    bytes

let private malformed field offset expected found =
    Malformed { Field = field; Offset = offset; Expected = expected; Found = found }

/// Checks the header fields whose bytes are present; None when all present ones are right.
let private checkHeader (bytes: ReadOnlySpan<byte>) : DecodeResult option =
    if bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian bytes <> magic then
        let found = BinaryPrimitives.ReadUInt32LittleEndian bytes
        Some(malformed "magic" 0 ("0x" + magic.ToString("X8") + " (\"SSIH\")") ("0x" + found.ToString("X8")))
    elif bytes.Length >= 5 && bytes.[4] <> version then
        Some(malformed "version" 4 (string version) (string bytes.[4]))
    elif bytes.Length >= 6 && (bytes.[5] = 0uy || bytes.[5] > highestTypeCode) then
        Some(malformed "message type" 5 ("1.." + string highestTypeCode) (string bytes.[5]))
    elif bytes.Length >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice 6) <> 0us then
        Some(malformed "reserved" 6 "0" (string (BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice 6))))
    elif bytes.Length >= headerLength then
        let length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice 16)
        let least, most = payloadBounds bytes.[5]
        if length > uint32 maxPayloadLength then
            Some(malformed "payload length" 16 ("at most " + string maxPayloadLength) (string length))
        elif length < uint32 least || length > uint32 most then
            let expected = if least = most then string least else string least + ".." + string most
            Some(malformed "payload length" 16 (expected + " for message type " + string bytes.[5]) (string length))
        else None
    else None

let private readPage (payload: ReadOnlySpan<byte>) = PageNumber(BinaryPrimitives.ReadUInt64LittleEndian payload)

let private readEndpoint (payload: ReadOnlySpan<byte>) =
    { QueuePair = BinaryPrimitives.ReadUInt32LittleEndian payload
      PacketSequence = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice 4)
      Lid = BinaryPrimitives.ReadUInt16LittleEndian(payload.Slice 8)
      Gid = Gid(payload.Slice(10, Gid.length).ToArray())
      Mtu = payload.[10 + Gid.length] }

let private readRegion (payload: ReadOnlySpan<byte>) =
    { Address = BinaryPrimitives.ReadUInt64LittleEndian payload
      Key = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice 8)
      Length = BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice 12) }

/// The payload's length was checked against its type, so only the contents can be wrong (ErrorReply's text).
let private readMessage (code: byte) (payload: ReadOnlySpan<byte>) : Result<Message, DecodeError> =
    match code with
    | 1uy -> Ok(Hello(NodeId(BinaryPrimitives.ReadInt32LittleEndian payload), Nonce(payload.Slice(nodeIdLength).ToArray())))
    | 2uy -> Ok(HelloProof(Proof(payload.ToArray())))
    | 3uy -> Ok(FetchPage(readPage payload))
    | 4uy -> Ok(PageData(readPage payload, PageBytes(payload.Slice(pageNumberLength).ToArray())))
    | 5uy -> Ok(StorePage(readPage payload, PageBytes(payload.Slice(pageNumberLength).ToArray())))
    | 6uy -> Ok(Stored(readPage payload))
    | 7uy -> Ok(Invalidate(readPage payload, NodeId(BinaryPrimitives.ReadInt32LittleEndian(payload.Slice pageNumberLength))))
    | 8uy -> Ok(InvalidateAck(readPage payload))
    | 9uy ->
        let text = payload.Slice errorCodeLength
        // Strict UTF-8 only: a lenient decode would turn two different byte strings into one text.
        if Utf8.IsValid text then
            Ok(ErrorReply(BinaryPrimitives.ReadUInt16LittleEndian payload, ErrorText(Encoding.UTF8.GetString text)))
        else
            Error { Field = "error text"; Offset = headerLength + errorCodeLength; Expected = "valid UTF-8"; Found = "invalid UTF-8" }
    | 10uy -> Ok Ping
    | 11uy -> Ok Pong
    | 12uy -> Ok(RdmaConnect(readEndpoint payload))
    | 13uy ->
        Ok(RdmaAccept(readEndpoint payload, readRegion (payload.Slice endpointLength), readRegion (payload.Slice(endpointLength + regionLength))))
    | 14uy -> Ok(LocatePage(readPage payload))
    // 15; checkHeader refused every other type code.
    | _ -> Ok(PageLocation(readPage payload, BinaryPrimitives.ReadInt64LittleEndian(payload.Slice pageNumberLength)))

/// Decodes the frame at the start of `bytes`; bytes after it are left for the next call.
let decode (bytes: ReadOnlySpan<byte>) : DecodeResult =
    match checkHeader bytes with
    | Some refused -> refused
    | None when bytes.Length < headerLength -> NeedMore(headerLength - bytes.Length)
    | None ->
        let total = headerLength + int (BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice 16))
        if bytes.Length < total then NeedMore(total - bytes.Length)
        else
            match readMessage bytes.[5] (bytes.Slice(headerLength, total - headerLength)) with
            | Ok message -> Decoded({ RequestId = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice 8); Message = message }, total)
            | Error e -> Malformed e
