module SsiHv.PropertyTests.Acpi.XsdtProperties

open Expecto
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

let xsdt = gen {
    let! header = header Xsdt.signature
    let! entries = Gen.listOf anyUInt64
    return { Xsdt.Header = header; Xsdt.Entries = entries } }

let tests =
    testList "XSDT" [
        roundTrips Xsdt.serialize Xsdt.parse xsdt
        headerInvariants Xsdt.serialize xsdt
        parseNeverThrows "XSDT" Xsdt.parse (xsdt |> Gen.map Xsdt.serialize) withHeaderChecksum
        test "a body that is not whole addresses is an error" {
            let bytes = SsiHv.Core.Acpi.Header.serialize (SsiHv.Core.Acpi.Header.ours "XSDT" 1uy) (Array.zeroCreate 12)
            Expect.isError (Xsdt.parse bytes) "12-byte body"
        }
    ]
