/// The 36-byte System Description Table Header every table but RSDP and FACS starts with (ACPI 6.5 §5.2.6).
/// Length and checksum are not part of the model: the serializer computes them and the parser checks them.
module SsiHv.Core.Acpi.Header

open System
open SsiHv.Core.Acpi.Binary

let size = 36

type Header =
    { Signature: string
      Revision: byte
      OemId: string
      OemTableId: string
      OemRevision: uint32
      CreatorId: string
      CreatorRevision: uint32 }

let ourOemId = "SSIHV "
let ourCreatorId = "SSIH"
let ourCreatorRevision = 1u

/// Our header for `signature`: OEM table ID "SSIHV" + signature, so `iasl -d` and acpidump show who made it.
let ours (signature: string) (revision: byte) =
    { Signature = signature; Revision = revision; OemId = ourOemId; OemTableId = "SSIHV" + signature.Substring(0, 3)
      OemRevision = 1u; CreatorId = ourCreatorId; CreatorRevision = ourCreatorRevision }

/// The whole table: header (with length and checksum filled in) followed by `body`.
let serialize (h: Header) (body: byte[]) : byte[] =
    let table =
        Array.concat
            [ text 4 h.Signature; u32 (uint32 (size + body.Length)); u8 h.Revision; u8 0uy
              text 6 h.OemId; text 8 h.OemTableId; u32 h.OemRevision; text 4 h.CreatorId; u32 h.CreatorRevision; body ]
    table.[9] <- checksumOf table
    table

/// Checks signature, length field and checksum; returns the header and the bytes after it.
let parse (expected: string) (bytes: byte[]) : Result<Header * byte[], AcpiError> =
    result {
        let! signature = readText expected bytes 0 4
        if signature <> expected then
            return! fail expected 0 (String.Format("signature is \"{0}\", expected \"{1}\"", signature, expected))
        else
            let! length = readU32 expected bytes 4
            if int64 length <> int64 bytes.Length then
                return! fail expected 4 (String.Format("length field says {0} bytes but the table has {1}", length, bytes.Length))
            elif length < uint32 size then
                return! fail expected 4 (String.Format("length {0} is shorter than the {1}-byte header", length, size))
            elif byteSum bytes <> 0 then
                return! fail expected 9 (String.Format("checksum is wrong: the bytes sum to {0} modulo 256, expected 0", (byteSum bytes)))
            else
                let! revision = readU8 expected bytes 8
                let! oemId = readText expected bytes 10 6
                let! oemTableId = readText expected bytes 16 8
                let! oemRevision = readU32 expected bytes 24
                let! creatorId = readText expected bytes 28 4
                let! creatorRevision = readU32 expected bytes 32
                return
                    { Signature = signature; Revision = revision; OemId = oemId; OemTableId = oemTableId
                      OemRevision = oemRevision; CreatorId = creatorId; CreatorRevision = creatorRevision },
                    Array.sub bytes size (bytes.Length - size)
    }
