/// The Firmware ACPI Control Structure (ACPI 6.5 §5.2.10, Table 5.14). A FADT that is not hardware-reduced
/// must point to one (§5.2.9, FIRMWARE_CTRL/X_FIRMWARE_CTRL); the OS finds the global lock and the waking
/// vector there. It has no checksum; its length is fixed at 64 bytes.
module SsiHv.Core.Acpi.Facs

open System
open SsiHv.Core.Acpi.Binary

let signature = "FACS"
let size = 64

type Facs =
    { HardwareSignature: uint32
      FirmwareWakingVector: uint32
      GlobalLock: uint32
      Flags: uint32
      XFirmwareWakingVector: uint64
      Version: byte
      OspmFlags: uint32 }

/// Ours: version 2 (the current FACS version); no S4BIOS, no 64-bit wake support, lock free, no wake vector:
/// the guest only ever powers off, it never resumes from a sleep state.
let ours =
    { HardwareSignature = 0u; FirmwareWakingVector = 0u; GlobalLock = 0u; Flags = 0u
      XFirmwareWakingVector = 0UL; Version = 2uy; OspmFlags = 0u }

let serialize (f: Facs) : byte[] =
    Array.concat
        [ text 4 signature; u32 (uint32 size); u32 f.HardwareSignature; u32 f.FirmwareWakingVector; u32 f.GlobalLock
          u32 f.Flags; u64 f.XFirmwareWakingVector; u8 f.Version; zeros 3; u32 f.OspmFlags; zeros 24 ]

let parse (bytes: byte[]) : Result<Facs, AcpiError> =
    result {
        let! found = readText signature bytes 0 4
        let! length = readU32 signature bytes 4
        if found <> signature then
            return! fail signature 0 (String.Format("signature is \"{0}\", expected \"{1}\"", found, signature))
        // Firmware may report a longer FACS (the field is a length, not a version), never a shorter one.
        elif int64 length <> int64 bytes.Length || bytes.Length < size then
            return! fail signature 4 (String.Format("length field says {0} and the data has {1} bytes, expected both to be at least {2} and equal", length, bytes.Length, size))
        else
            let! hardwareSignature = readU32 signature bytes 8
            let! firmwareWakingVector = readU32 signature bytes 12
            let! globalLock = readU32 signature bytes 16
            let! flags = readU32 signature bytes 20
            let! xFirmwareWakingVector = readU64 signature bytes 24
            let! version = readU8 signature bytes 32
            let! ospmFlags = readU32 signature bytes 36
            return
                { HardwareSignature = hardwareSignature; FirmwareWakingVector = firmwareWakingVector; GlobalLock = globalLock
                  Flags = flags; XFirmwareWakingVector = xFirmwareWakingVector; Version = version; OspmFlags = ospmFlags }
    }
