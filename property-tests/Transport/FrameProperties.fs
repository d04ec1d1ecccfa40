module SsiHv.PropertyTests.Transport.FrameProperties

open System
open System.Buffers.Binary
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport
open SsiHv.PropertyTests.Transport.TransportGenerators

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private decode (bytes: byte[]) = Frame.decode (ReadOnlySpan bytes)

/// Decode must be total: an exception here is a failed property, not an error in the test.
let private decodeWithoutThrowing (bytes: byte[]) =
    try Ok(decode bytes) with e -> Error e

/// A valid frame with one byte replaced: reaches every field check, unlike uniformly random bytes, which
/// almost always fail at the magic.
let private corrupted =
    gen {
        let! frame = envelope |> Gen.map Frame.encode
        let! at = Gen.choose (0, frame.Length - 1)
        let! value = ArbMap.defaults |> ArbMap.generate<byte>
        let copy = Array.copy frame
        copy.[at] <- value
        return copy
    }

let rec private decodeAll (bytes: byte[]) decoded =
    match decode bytes with
    | Frame.Decoded(envelope, consumed) -> decodeAll bytes.[consumed..] (envelope :: decoded)
    | other -> List.rev decoded, other, bytes.Length

let private header (messageType: byte) (payloadLength: uint32) =
    let bytes = Array.zeroCreate Frame.headerLength
    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(), Frame.magic)
    bytes.[4] <- Frame.version
    bytes.[5] <- messageType
    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan 16, payloadLength)
    bytes

let private malformedField (result: Frame.DecodeResult) =
    match result with
    | Frame.Malformed e -> Some(e.Field, e.Offset)
    | _ -> None

let tests =
    testList "frame" [
        testPropertyWithConfig config "decode (encode m) gives m back and consumes the whole frame" <|
            Prop.forAll (Arb.fromGen envelope) (fun envelope ->
                let bytes = Frame.encode envelope
                decode bytes = Frame.Decoded(envelope, bytes.Length))

        testPropertyWithConfig config "every encoded frame fits the bound" <|
            Prop.forAll (Arb.fromGen envelope) (fun envelope -> (Frame.encode envelope).Length <= Frame.maxFrameLength)

        testPropertyWithConfig config "decode never throws on arbitrary bytes" <|
            Prop.forAll (Arb.fromGen (ArbMap.defaults |> ArbMap.generate<byte[]>)) (fun bytes ->
                Result.isOk (decodeWithoutThrowing bytes))

        testPropertyWithConfig config "decode never throws on a corrupted frame, and never consumes past the input" <|
            Prop.forAll (Arb.fromGen corrupted) (fun bytes ->
                match decodeWithoutThrowing bytes with
                | Ok(Frame.Decoded(_, consumed)) -> consumed <= bytes.Length
                | Ok(Frame.NeedMore n) -> n > 0
                | Ok(Frame.Malformed _) -> true
                | Error _ -> false)

        testPropertyWithConfig config "every proper prefix of a frame needs more, never past the frame's end" <|
            Prop.forAll (Arb.fromGen (Gen.zip envelope (Gen.choose (0, Int32.MaxValue)))) (fun (envelope, cut) ->
                let bytes = Frame.encode envelope
                let prefix = bytes.[.. cut % bytes.Length - 1]
                match decode prefix with
                | Frame.NeedMore n -> n > 0 && prefix.Length + n <= bytes.Length
                | _ -> false)

        testPropertyWithConfig config "concatenated frames decode one by one, in order" <|
            Prop.forAll (Arb.fromGen (Gen.listOf envelope)) (fun envelopes ->
                let stream = envelopes |> List.map Frame.encode |> Array.concat
                let decoded, last, left = decodeAll stream []
                decoded = envelopes && left = 0 && last = Frame.NeedMore Frame.headerLength)

        testPropertyWithConfig config "a payload length over the maximum is refused from the header alone" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 15)) (Gen.choose (Frame.maxPayloadLength + 1, Int32.MaxValue)))) (fun (messageType, length) ->
                malformedField (decode (header (byte messageType) (uint32 length))) = Some("payload length", 16))

        testPropertyWithConfig config "error texts are cut on a character boundary to the bound, and short ones kept" <|
            Prop.forAll (Arb.fromGen (ArbMap.defaults |> ArbMap.generate<string>)) (fun text ->
                let kept = ErrorText.value (ErrorText.ofString text)
                let bytes = Encoding.UTF8.GetBytes kept
                // FsCheck's strings include null, which ofString takes as empty.
                let sanitized = if obj.ReferenceEquals(text, null) then "" else Encoding.UTF8.GetString(Encoding.UTF8.GetBytes text)
                bytes.Length <= ErrorText.maxBytes
                && sanitized.StartsWith(kept, StringComparison.Ordinal)
                && (Encoding.UTF8.GetByteCount sanitized > ErrorText.maxBytes || kept = sanitized))

        test "each header field is checked where it is, naming what was expected" {
            let valid = Frame.encode { RequestId = 7UL; Message = Ping }
            let withByte at value = let copy = Array.copy valid in copy.[at] <- value; copy
            let text bytes =
                match decode bytes with
                | Frame.Malformed e -> Frame.DecodeError.text e
                | other -> sprintf "%A" other
            Expect.equal (text (withByte 0 0uy)) "magic at offset 0: expected 0x48495353 (\"SSIH\"), found 0x48495300" "magic"
            Expect.equal (text (withByte 4 2uy)) "version at offset 4: expected 1, found 2" "version"
            Expect.equal (text (withByte 5 0uy)) "message type at offset 5: expected 1..15, found 0" "type"
            Expect.equal (text (withByte 6 1uy)) "reserved at offset 6: expected 0, found 1" "reserved"
            Expect.equal (text (header 3uy 9u)) "payload length at offset 16: expected 8 for message type 3, found 9" "size of FetchPage"
            Expect.equal (text (withByte 0 0uy).[..3]) (text (withByte 0 0uy)) "a wrong magic is refused before the rest arrives"
        }

        test "an error text that is not UTF-8 is refused at its offset" {
            let bytes = Array.append (header 9uy 3u) [| 1uy; 0uy; 0xFFuy |]
            Expect.equal (decode bytes) (Frame.Malformed { Field = "error text"; Offset = 22; Expected = "valid UTF-8"; Found = "invalid UTF-8" }) "invalid UTF-8"
        }
    ]
