/// The Extended System Description Table (ACPI 6.5 §5.2.8): the 64-bit addresses of every other table but the
/// FACS and the DSDT, which the FADT points to.
module SsiHv.Core.Acpi.Xsdt

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Header

let signature = "XSDT"

type Xsdt = { Header: Header; Entries: uint64 list }

/// Ours: revision 1 is the only XSDT revision the specification defines.
let ofAddresses (addresses: uint64 list) = { Header = Header.ours signature 1uy; Entries = addresses }

let serialize (x: Xsdt) = Header.serialize x.Header (x.Entries |> List.map u64 |> Array.concat)

let parse (bytes: byte[]) : Result<Xsdt, AcpiError> =
    result {
        let! header, body = Header.parse signature bytes
        if body.Length % 8 <> 0 then
            return! fail signature Header.size (String.Format("the {0} bytes after the header are not a whole number of 8-byte addresses", body.Length))
        else
            let! entries = List.init (body.Length / 8) id |> traverse (fun i -> readU64 signature bytes (Header.size + 8 * i))
            return { Header = header; Entries = entries }
    }
