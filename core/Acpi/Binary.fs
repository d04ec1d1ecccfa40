/// Little-endian encoding and bounds-checked decoding shared by every ACPI table. Encoders return fresh arrays
/// (tables are small and built once); decoders never read outside the array and report errors as values.
module SsiHv.Core.Acpi.Binary

open System
open System.Buffers.Binary

/// Where and why a table failed to parse or validate.
type AcpiError = { Table: string; Offset: int; Message: string }

module AcpiError =
    let text (e: AcpiError) = String.Format("{0} at offset {1} (0x{2:X}): {3}", e.Table, e.Offset, e.Offset, e.Message)

let u8 (v: byte) = [| v |]
let u16 (v: uint16) = let b = Array.zeroCreate 2 in BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(), v); b
let u32 (v: uint32) = let b = Array.zeroCreate 4 in BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(), v); b
let u64 (v: uint64) = let b = Array.zeroCreate 8 in BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(), v); b
let zeros (n: int) : byte[] = Array.zeroCreate n

/// A fixed-width text field (signature, OEM ID, ...): one byte per char (Latin-1, so any byte round-trips),
/// padded with spaces, cut to the width.
let text (width: int) (s: string) =
    Array.init width (fun i -> if i < s.Length then byte s.[i] else byte ' ')

/// The byte that makes the sum of `bytes` zero modulo 256 when stored in a zero-filled checksum field.
let checksumOf (bytes: byte[]) = byte ((256 - (Array.sumBy int bytes % 256)) % 256)

let byteSum (bytes: byte[]) = Array.sumBy int bytes % 256

/// Reads at `offset` after checking that `size` bytes are there.
let private ensure (table: string) (bytes: byte[]) (offset: int) (size: int) =
    if offset < 0 || size < 0 || offset > bytes.Length - size then
        Error { Table = table; Offset = offset; Message = String.Format("needs {0} bytes here but the data ends at {1}", size, bytes.Length) }
    else Ok()

let readU8 table (bytes: byte[]) offset = ensure table bytes offset 1 |> Result.map (fun () -> bytes.[offset])
let readU16 table (bytes: byte[]) offset =
    ensure table bytes offset 2 |> Result.map (fun () -> BinaryPrimitives.ReadUInt16LittleEndian(ReadOnlySpan(bytes, offset, 2)))
let readU32 table (bytes: byte[]) offset =
    ensure table bytes offset 4 |> Result.map (fun () -> BinaryPrimitives.ReadUInt32LittleEndian(ReadOnlySpan(bytes, offset, 4)))
let readU64 table (bytes: byte[]) offset =
    ensure table bytes offset 8 |> Result.map (fun () -> BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(bytes, offset, 8)))
let readText table (bytes: byte[]) offset width =
    ensure table bytes offset width |> Result.map (fun () -> String(Array.init width (fun i -> char bytes.[offset + i])))
let readBytes table (bytes: byte[]) offset count =
    ensure table bytes offset count |> Result.map (fun () -> Array.sub bytes offset count)

let fail table offset message : Result<'a, AcpiError> = Error { Table = table; Offset = offset; Message = message }

type ResultBuilder() =
    member _.Bind(r, f) = Result.bind f r
    member _.Return v = Ok v
    member _.ReturnFrom(r: Result<_, _>) = r
    member _.Zero() = Ok()

/// `result { let! x = ... }`: the first error stops the parse.
let result = ResultBuilder()

/// Applies `parseOne` to each element, stopping at the first error.
let traverse (parseOne: 'a -> Result<'b, 'e>) (items: 'a list) : Result<'b list, 'e> =
    let folder item acc =
        match acc, parseOne item with
        | Ok rest, Ok v -> Ok(v :: rest)
        | Error e, _ | _, Error e -> Error e
    List.foldBack folder items (Ok [])

/// Splits a run of type/length subtables (every ACPI table with a variable list uses this shape) into
/// (type, offset, bytes) items. `lengthAt` reads a subtable's length at its offset; a length smaller than
/// `minLength` or running past the end is an error, so a hostile table cannot loop or overrun.
let splitSubtables (table: string) (bytes: byte[]) (start: int) (minLength: int) (lengthAt: int -> Result<int, AcpiError>) =
    // A plain tail-recursive loop (no computation expression), so a table of many tiny subtables cannot
    // exhaust the stack.
    let rec go offset acc =
        if offset = bytes.Length then Ok(List.rev acc)
        else
            match readU8 table bytes offset, lengthAt offset with
            | Error e, _ | _, Error e -> Error e
            | Ok kind, Ok length when length < minLength ->
                fail table offset (String.Format("subtable type {0} has length {1}, below the minimum {2}", kind, length, minLength))
            | Ok kind, Ok length ->
                match readBytes table bytes offset length with
                | Error e -> Error e
                | Ok body -> go (offset + length) ((kind, offset, body) :: acc)
    go start []
