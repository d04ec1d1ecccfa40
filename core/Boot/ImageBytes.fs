/// Bounds-checked little-endian reads from a kernel image file. Image headers hold 64-bit offsets and sizes, so
/// every check is done in uint64 before anything is converted to an array index; errors name the file, the
/// field and the offset.
module SsiHv.Core.Boot.ImageBytes

open System
open System.Buffers.Binary

let hex (v: uint64) = String.Format("0x{0:X}", v)

/// True when [offset, offset + size) lies inside a file of `length` bytes (no overflow for any inputs).
let within (length: int) (offset: uint64) (size: uint64) =
    offset <= uint64 length && size <= uint64 length - offset

/// A header field that does not lie wholly inside the file.
type FieldOutsideFile = { File: string; Field: string; Offset: uint64; Size: int; FileLength: int }

module FieldOutsideFile =
    let text (e: FieldOutsideFile) =
        String.Format("{0}: {1} at offset {2} needs {3} bytes but the file is only {4} bytes", e.File, e.Field, (hex e.Offset), e.Size, e.FileLength)

let private read (file: string) (bytes: byte[]) (field: string) (offset: uint64) (size: int) : Result<uint64, FieldOutsideFile> =
    if not (within bytes.Length offset (uint64 size)) then
        Error { File = file; Field = field; Offset = offset; Size = size; FileLength = bytes.Length }
    else
        let span = ReadOnlySpan(bytes, int offset, size)
        let value =
            match size with
            | 1 -> uint64 span.[0]
            | 2 -> uint64 (BinaryPrimitives.ReadUInt16LittleEndian span)
            | 4 -> uint64 (BinaryPrimitives.ReadUInt32LittleEndian span)
            | _ -> BinaryPrimitives.ReadUInt64LittleEndian span
        Ok value

/// Unsigned little-endian fields, widened to uint64 so offset arithmetic stays in one type.
let u8 file bytes field offset = read file bytes field offset 1
let u16 file bytes field offset = read file bytes field offset 2
let u32 file bytes field offset = read file bytes field offset 4
let u64 file bytes field offset = read file bytes field offset 8
