/// The Root System Description Pointer (ACPI 6.5 §5.2.5): where the guest starts its walk of the tables.
/// We write revision 2 (the 36-byte form with an XSDT address) and no RSDT; the parser also reads the
/// 20-byte ACPI 1.0 form (revision 0) that QEMU's pc machine still publishes, so `acpi check` can read it.
module SsiHv.Core.Acpi.Rsdp

open System
open SsiHv.Core.Acpi.Binary

let private table = "RSDP"
let signature = "RSD PTR "

/// Bytes covered by the first checksum, and the whole ACPI 1.0 structure (§5.2.5.3, Table 5.3).
let acpi1Size = 20
/// The whole revision 2 structure, also the value of its Length field.
let size = 36

/// Length and both checksums are derived. A revision below 2 is the ACPI 1.0 structure, which ends before the
/// XSDT address: serializing one drops `XsdtAddress`, so such a value only round-trips with an XSDT address of 0.
type Rsdp =
    { OemId: string
      Revision: byte
      RsdtAddress: uint32
      XsdtAddress: uint64 }

/// Ours: revision 2, no RSDT (every guest we target reads the XSDT), tables found through `xsdtAddress`.
let ofXsdt (xsdtAddress: uint64) =
    { OemId = Header.ourOemId; Revision = 2uy; RsdtAddress = 0u; XsdtAddress = xsdtAddress }

let serialize (r: Rsdp) : byte[] =
    let acpi1 = Array.concat [ text 8 signature; u8 0uy; text 6 r.OemId; u8 r.Revision; u32 r.RsdtAddress ]
    acpi1.[8] <- checksumOf acpi1
    if r.Revision < 2uy then acpi1
    else
        let whole = Array.concat [ acpi1; u32 (uint32 size); u64 r.XsdtAddress; u8 0uy; zeros 3 ]
        whole.[32] <- checksumOf whole
        whole

let parse (bytes: byte[]) : Result<Rsdp, AcpiError> =
    result {
        let! found = readText table bytes 0 8
        if found <> signature then
            return! fail table 0 (String.Format("signature is \"{0}\", expected \"{1}\"", found, signature))
        else
            let! acpi1 = readBytes table bytes 0 acpi1Size
            let! oemId = readText table bytes 9 6
            let! revision = readU8 table bytes 15
            let! rsdtAddress = readU32 table bytes 16
            if byteSum acpi1 <> 0 then
                return! fail table 8 (String.Format("checksum of the first {0} bytes is wrong: they sum to {1} modulo 256, expected 0", acpi1Size, (byteSum acpi1)))
            elif revision < 2uy then
                if bytes.Length <> acpi1Size then
                    return! fail table acpi1Size (String.Format("a revision {0} RSDP is {1} bytes, but the data has {2}", revision, acpi1Size, bytes.Length))
                else
                    return { OemId = oemId; Revision = revision; RsdtAddress = rsdtAddress; XsdtAddress = 0UL }
            else
                let! length = readU32 table bytes 20
                if int64 length <> int64 size || bytes.Length <> size then
                    return! fail table 20 (String.Format("length field says {0} and the data has {1} bytes, expected both {2}", length, bytes.Length, size))
                elif byteSum bytes <> 0 then
                    return! fail table 32 (String.Format("extended checksum is wrong: the {0} bytes sum to {1} modulo 256, expected 0", size, (byteSum bytes)))
                else
                    let! xsdtAddress = readU64 table bytes 24
                    return { OemId = oemId; Revision = revision; RsdtAddress = rsdtAddress; XsdtAddress = xsdtAddress }
    }
