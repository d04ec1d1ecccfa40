/// Whether input bytes are UTF-8 text. Every document a person or a peer hands a node host (a JSON body, a
/// topology or node config file) is checked before it is decoded, so a broken byte is refused as bad input that
/// names where it is, instead of failing deep in a decoder.
module SsiHv.Core.Text.Utf8Text

open System
open System.Buffers
open System.Text.Unicode

/// The first byte that does not continue valid UTF-8: its offset from the start and its value.
type InvalidUtf8 = { Offset: int; Byte: byte }

module InvalidUtf8 =
    let text (invalid: InvalidUtf8) =
        String.Format("not valid UTF-8: byte 0x{0:X2} at offset {1}", invalid.Byte, invalid.Offset)

let check (bytes: byte[]) : Result<unit, InvalidUtf8> =
    let decoded = Array.zeroCreate<char> bytes.Length
    let mutable read = 0
    let mutable written = 0
    // Without replacement, decoding stops at the first invalid sequence and says how far it got.
    match Utf8.ToUtf16(System.ReadOnlySpan bytes, System.Span decoded, &read, &written, false, true) with
    | OperationStatus.Done -> Ok()
    | _ -> Error { Offset = read; Byte = bytes.[read] }
