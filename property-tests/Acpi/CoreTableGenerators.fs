/// FsCheck generators and shared properties for the RSDP, XSDT, FACS, FADT, DSDT and MADT models.
module SsiHv.PropertyTests.Acpi.CoreTableGenerators

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Header

let private arbitrary<'a> = ArbMap.defaults |> ArbMap.generate<'a>
let anyByte = arbitrary<byte>
let anyUInt16 = arbitrary<uint16>
let anyUInt32 = arbitrary<uint32>
let anyUInt64 = arbitrary<uint64>

/// A fixed-width text field: exactly `width` Latin-1 characters, which is what the parsers return.
let fixedText (width: int) =
    Gen.arrayOfLength width (Gen.choose (0, 255)) |> Gen.map (fun codes -> System.String(Array.map char codes))

let header (signature: string) =
    gen {
        let! revision = anyByte
        let! oemId = fixedText 6
        let! oemTableId = fixedText 8
        let! oemRevision = anyUInt32
        let! creatorId = fixedText 4
        let! creatorRevision = anyUInt32
        return
            { Signature = signature; Revision = revision; OemId = oemId; OemTableId = oemTableId; OemRevision = oemRevision
              CreatorId = creatorId; CreatorRevision = creatorRevision }
    }

let bytesUpTo (maxLength: int) = gen {
    let! length = Gen.choose (0, maxLength)
    return! Gen.arrayOfLength length anyByte }

let lengthField (bytes: byte[]) offset = System.BitConverter.ToUInt32(bytes, offset)

/// Sets the header checksum (offset 9) so that a mutated table still reaches the body parser.
let withHeaderChecksum (bytes: byte[]) =
    let copy = Array.copy bytes
    if copy.Length > 9 then
        copy.[9] <- 0uy
        copy.[9] <- checksumOf copy
    copy

let private doesNotThrow (parse: byte[] -> Result<'a, AcpiError>) (bytes: byte[]) =
    match parse bytes with
    | Ok _ | Error _ -> true

/// `parse` returns Ok or Error, never throws: on arbitrary bytes, on `valid` tables cut short, and on `valid`
/// tables with one byte changed, raw and with the checksum repaired by `repair` so the parse goes deeper.
let parseNeverThrows (name: string) (parse: byte[] -> Result<'a, AcpiError>) (valid: Gen<byte[]>) (repair: byte[] -> byte[]) =
    let truncated = gen {
        let! table = valid
        let! length = Gen.choose (0, table.Length)
        return Array.sub table 0 length }
    let mutated = gen {
        let! table = valid
        let! index = Gen.choose (0, table.Length - 1)
        let! value = anyByte
        let copy = Array.copy table
        copy.[index] <- value
        return copy }
    let repaired = gen {
        let! table = mutated
        return repair table }
    let prop g = Prop.forAll (Arb.fromGen g) (doesNotThrow parse)
    testList (name + " parse never throws") [
        testProperty "on arbitrary bytes" (prop (bytesUpTo 400))
        testProperty "on truncated tables" (prop truncated)
        testProperty "on tables with a byte changed" (prop mutated)
        testProperty "on tables with a byte changed and the checksum repaired" (prop repaired)
    ]

let roundTrips (serialize: 'a -> byte[]) (parse: byte[] -> Result<'a, AcpiError>) (model: Gen<'a>) =
    testProperty "parse (serialize t) = Ok t" (Prop.forAll (Arb.fromGen model) (fun t -> parse (serialize t) = Ok t))

/// For tables with the standard header: bytes sum to 0 and the length field is the array size.
let headerInvariants (serialize: 'a -> byte[]) (model: Gen<'a>) =
    testList "header invariants" [
        testProperty "bytes sum to 0 modulo 256" (Prop.forAll (Arb.fromGen model) (fun t -> byteSum (serialize t) = 0))
        testProperty "length field = array size" (Prop.forAll (Arb.fromGen model) (fun t ->
            let bytes = serialize t
            int (lengthField bytes 4) = bytes.Length))
    ]
