module SsiHv.PropertyTests.Acpi.RsdpProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Acpi.Binary
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

/// Revision 2 and up carry an XSDT address; below 2 the 20-byte ACPI 1.0 form has none (so it is 0).
let rsdp = gen {
    let! oemId = fixedText 6
    let! revision = anyByte
    let! rsdtAddress = anyUInt32
    let! xsdtAddress = if revision >= 2uy then anyUInt64 else Gen.constant 0UL
    return { Rsdp.OemId = oemId; Rsdp.Revision = revision; Rsdp.RsdtAddress = rsdtAddress; Rsdp.XsdtAddress = xsdtAddress } }

let private repairChecksums (bytes: byte[]) =
    let copy = Array.copy bytes
    if copy.Length >= Rsdp.acpi1Size then
        copy.[8] <- 0uy
        copy.[8] <- checksumOf (Array.sub copy 0 Rsdp.acpi1Size)
    if copy.Length >= Rsdp.size then
        copy.[32] <- 0uy
        copy.[32] <- checksumOf copy
    copy

let tests =
    testList "RSDP" [
        roundTrips Rsdp.serialize Rsdp.parse rsdp
        testProperty "both checksums are 0 modulo 256" (Prop.forAll (Arb.fromGen rsdp) (fun r ->
            let bytes = Rsdp.serialize r
            byteSum (Array.sub bytes 0 Rsdp.acpi1Size) = 0 && byteSum bytes = 0))
        testProperty "revision 2 is 36 bytes and says so" (Prop.forAll (Arb.fromGen rsdp) (fun r ->
            let bytes = Rsdp.serialize r
            if r.Revision >= 2uy then bytes.Length = Rsdp.size && int (lengthField bytes 20) = bytes.Length
            else bytes.Length = Rsdp.acpi1Size))
        parseNeverThrows "RSDP" Rsdp.parse (rsdp |> Gen.map Rsdp.serialize) repairChecksums
        test "ours is revision 2 with no RSDT" {
            let ours = Rsdp.ofXsdt 0x1234UL
            Expect.equal (ours.Revision, ours.RsdtAddress, ours.XsdtAddress) (2uy, 0u, 0x1234UL) "fields"
        }
        test "a bad extended checksum is reported at offset 32" {
            let bytes = Rsdp.serialize (Rsdp.ofXsdt 0x1234UL)
            bytes.[35] <- 1uy
            Expect.equal (Rsdp.parse bytes |> Result.mapError (fun e -> e.Offset)) (Error 32) "offset"
        }
    ]
