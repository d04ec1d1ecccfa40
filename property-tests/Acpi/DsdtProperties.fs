module SsiHv.PropertyTests.Acpi.DsdtProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Acpi.Aml
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

let private leadChars = [ 'A' .. 'Z' ] @ [ '_' ]
let private nameChars = leadChars @ [ '0' .. '9' ]

let nameSeg = gen {
    let! first = Gen.elements leadChars
    let! rest = Gen.arrayOfLength 3 (Gen.elements nameChars)
    return System.String(Array.append [| first |] rest) }

let nameString = gen {
    let! anchor = Gen.frequency [ 3, Gen.constant Relative; 2, Gen.constant Root; 1, Gen.choose (1, 3) |> Gen.map Parents ]
    let! count = Gen.frequency [ 1, Gen.constant 0; 4, Gen.constant 1; 2, Gen.constant 2; 1, Gen.choose (3, 6) ]
    let! segments = Gen.listOfLength count nameSeg
    return { Anchor = anchor; Segments = segments } }

/// Every integer encoding width, and the values at their edges.
let integer =
    Gen.frequency
        [ 1, Gen.elements [ 0UL; 1UL; 2UL; 0xFFUL; 0x100UL; 0xFFFFUL; 0x10000UL; 0xFFFFFFFFUL; 0x100000000UL; System.UInt64.MaxValue ]
          3, anyUInt64
          2, Gen.choose (0, 70000) |> Gen.map uint64 ]

let private leafData =
    Gen.oneof
        [ integer |> Gen.map Integer
          Gen.choose (0, 12) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (1, 127)))
          |> Gen.map (fun codes -> String(System.String(Array.map char codes)))
          // Lengths around the one- and two-byte PkgLength limits (63 and 4095) as well as small ones.
          Gen.frequency [ 4, Gen.choose (0, 70); 1, Gen.choose (4000, 4200) ] |> Gen.bind (fun n -> Gen.arrayOfLength n anyByte) |> Gen.map Buffer ]

let rec private dataOfSize size =
    if size <= 0 then leafData
    else
        Gen.frequency
            [ 3, leafData
              1, gen {
                  let! count = Gen.choose (0, 5)
                  let! items = Gen.listOfLength count (dataOfSize (size / 2))
                  return Package items } ]

let data = Gen.sized (fun size -> dataOfSize (min size 6))

/// A PkgLength (ACPI 6.5 §20.2.4) written independently of the codec's, in its 1- and 2-byte forms: the length
/// counts its own bytes too.
let withPkgLength (content: byte[]) =
    if content.Length + 1 <= 0x3F then Array.append [| byte (content.Length + 1) |] content
    else
        let total = content.Length + 2
        Array.append [| 0x40uy ||| byte (total &&& 0x0F); byte (total >>> 4) |] content

/// The opcodes of objects the decoder does not model but can step over, because a PkgLength follows them:
/// Method, If, Else, While, Buffer, Package, VarPackage, and after 0x5B Field, IndexField, BankField,
/// Processor, PowerResource and ThermalZone.
let private pkgLengthOpcodes =
    [ [| 0x14uy |]; [| 0xA0uy |]; [| 0xA1uy |]; [| 0xA2uy |]; [| 0x11uy |]; [| 0x12uy |]; [| 0x13uy |]
      [| 0x5Buy; 0x81uy |]; [| 0x5Buy; 0x86uy |]; [| 0x5Buy; 0x87uy |]; [| 0x5Buy; 0x83uy |]; [| 0x5Buy; 0x84uy |]; [| 0x5Buy; 0x85uy |] ]

let private simpleTermArg = Gen.oneof [ integer |> Gen.map (Integer >> encodeData); nameString |> Gen.map encodeNameString ]

/// One term the decoder does not model but can bound, which it keeps as its own Opaque before going on: an
/// object with a PkgLength and arbitrary content, a Mutex, or an OperationRegion with constant or named arguments.
let boundedOpaque =
    let pkgLengthObject =
        Gen.map2 (fun opcode content -> Array.append opcode (withPkgLength content))
            (Gen.elements pkgLengthOpcodes)
            (Gen.frequency [ 4, bytesUpTo 40; 1, Gen.choose (62, 300) |> Gen.bind (fun n -> Gen.arrayOfLength n anyByte) ])
    let mutex =
        Gen.map2 (fun name syncFlags -> Array.concat [ [| 0x5Buy; 0x01uy |]; encodeNameString name; [| syncFlags |] ]) nameString anyByte
    let operationRegion = gen {
        let! name = nameString
        let! regionSpace = anyByte
        let! offset = simpleTermArg
        let! length = simpleTermArg
        return Array.concat [ [| 0x5Buy; 0x80uy |]; encodeNameString name; [| regionSpace |]; offset; length ] }
    Gen.oneof [ pkgLengthObject; mutex; operationRegion ] |> Gen.map Opaque

/// The raw rest of a list: StoreOp (0x70), an expression whose end the decoder cannot find, then anything.
let unboundedRest = bytesUpTo 12 |> Gen.map (fun rest -> Opaque(Array.append [| 0x70uy |] rest))

let rec private termsOfSize size : Gen<Term list> =
    gen {
        let! count = Gen.choose (0, if size <= 0 then 2 else 4)
        let! items = Gen.listOfLength count (Gen.frequency [ 3, termOfSize (size / 2); 1, boundedOpaque ])
        let! tail = Gen.frequency [ 3, Gen.constant []; 1, unboundedRest |> Gen.map List.singleton ]
        return items @ tail
    }

and private termOfSize size : Gen<Term> =
    let name = Gen.map2 (fun n d -> Name(n, d)) nameString (dataOfSize (min size 4))
    if size <= 0 then name
    else
        Gen.oneof
            [ name
              Gen.map2 (fun n ts -> Scope(n, ts)) nameString (termsOfSize (size - 1))
              Gen.map2 (fun n ts -> Device(n, ts)) nameString (termsOfSize (size - 1)) ]

let terms = Gen.sized (fun size -> termsOfSize (min size 8))

let dsdt = gen {
    let! header = header Dsdt.signature
    let! terms = terms
    return { Dsdt.Header = header; Dsdt.Terms = terms } }

/// Bytes drawn mostly from the opcodes, prefixes and name characters the decoder looks at, so random input
/// reaches deep into it rather than stopping at the first byte.
let amlLikeBytes =
    let alphabet =
        [ 0x00uy; 0x01uy; 0x08uy; 0x0Auy; 0x0Buy; 0x0Cuy; 0x0Duy; 0x0Euy; 0x10uy; 0x11uy; 0x12uy; 0x13uy; 0x14uy; 0x2Euy
          0x2Fuy; 0x5Buy; 0x80uy; 0x81uy; 0x82uy; 0x83uy; 0xA0uy; 0xA2uy; byte '\\'; byte '^'; byte '_'; byte 'A'; byte 'Z'
          byte '5'; 0x3Fuy; 0x40uy; 0x7Fuy; 0xFFuy ]
    Gen.sized (fun size -> Gen.arrayOfLength (size * 4) (Gen.frequency [ 4, Gen.elements alphabet; 1, anyByte ]))

let private dsdtWith (terms: Term list) = { Dsdt.ours with Terms = terms }
let private roundTripsTerms (terms: Term list) = decodeTerms (encodeTerms terms) = terms

let tests =
    testList "DSDT and AML" [
        roundTrips Dsdt.serialize Dsdt.parse dsdt
        testProperty "decodeTerms (encodeTerms t) = t" (Prop.forAll (Arb.fromGen terms) roundTripsTerms)
        headerInvariants Dsdt.serialize dsdt
        parseNeverThrows "DSDT" Dsdt.parse (dsdt |> Gen.map Dsdt.serialize) withHeaderChecksum
        testProperty "parse never throws on AML-like bodies" (Prop.forAll (Arb.fromGen amlLikeBytes) (fun body ->
            let bytes = SsiHv.Core.Acpi.Header.serialize Dsdt.ours.Header body
            match Dsdt.parse bytes with
            | Ok d -> encodeTerms d.Terms = body // whatever is not understood is kept byte for byte
            | Error _ -> false))
        test "ours round-trips and declares \\_S5 with SLP_TYP 5" {
            Expect.equal (Dsdt.parse (Dsdt.serialize Dsdt.ours)) (Ok Dsdt.ours) "round trip"
            Expect.equal (Dsdt.findS5 Dsdt.ours) (Some Dsdt.s5SleepType) "_S5"
            Expect.equal Dsdt.s5SleepType 5uy "SLP_TYP"
        }
        test "EisaId(\"PNP0501\") compresses as iasl does" {
            Expect.equal (eisaId "PNP0501") (Integer 0x0105D041UL) "PNP0501"
            Expect.equal (eisaId "PNP0A03") (Integer 0x030AD041UL) "PNP0A03"
        }
        test "COM1's resource template is IO(Decode16, 0x3F8, 0x3F8, 0, 8), IRQNoFlags(){4}, end tag" {
            let expected = [| 0x47uy; 0x01uy; 0xF8uy; 0x03uy; 0xF8uy; 0x03uy; 0x00uy; 0x08uy; 0x22uy; 0x10uy; 0x00uy; 0x79uy; 0x00uy |]
            Expect.equal (ResourceTemplate.ofDescriptors [ ResourceTemplate.io16 0x3F8us 0x3F8us 0uy 8uy; ResourceTemplate.irqNoFlags [ 4 ] ]) (Buffer expected) "bytes"
        }
        test "path pads NameSegs and reads anchors" {
            Expect.equal (path "\\_SB.COM1") { Anchor = Root; Segments = [ "_SB_"; "COM1" ] } "root"
            Expect.equal (path "^^_S5") { Anchor = Parents 2; Segments = [ "_S5_" ] } "parents"
            Expect.equal (encodeNameString (path "\\_S5")) [| 0x5Cuy; 0x5Fuy; 0x53uy; 0x35uy; 0x5Fuy |] "encoding"
        }
        test "PkgLength of 1, 2, 3 and 4 bytes round-trips" {
            for size in [ 10; 100; 5000; 1_100_000 ] do
                Expect.isTrue (roundTripsTerms [ Name(path "BUF", Buffer(Array.create size 0xA5uy)) ]) (sprintf "%d-byte buffer" size)
        }
        test "a term without a length the decoder can find keeps the rest of its list raw, the terms before it decoded" {
            // OperationRegion (REG0, SystemIO, 0x10 + 0x20, 4): the offset is an expression (AddOp), not a constant.
            let region = [| 0x5Buy; 0x80uy; byte 'R'; byte 'E'; byte 'G'; byte '0'; 0x01uy; 0x72uy; 0x0Auy; 0x10uy; 0x0Auy; 0x20uy; 0x00uy; 0x0Auy; 0x04uy |]
            let name = Name(path "ABCD", Integer 7UL)
            let bytes = Array.concat [ encodeTerms [ name ]; region; encodeTerms [ name ] ]
            Expect.equal (decodeTerms bytes) [ name; Opaque(Array.append region (encodeTerms [ name ])) ] "decoded"
        }
        test "a Method is kept as one Opaque and the terms after it are decoded" {
            let method = Array.append [| 0x14uy |] (withPkgLength [| byte 'M'; byte 'T'; byte 'H'; byte 'D'; 0x00uy |])
            let name = Name(path "ABCD", Integer 7UL)
            let bytes = Array.concat [ encodeTerms [ name ]; method; encodeTerms [ name ] ]
            Expect.equal (decodeTerms bytes) [ name; Opaque method; name ] "decoded"
        }
        test "an OperationRegion with constant and named arguments and a Mutex are stepped over" {
            let region = Array.concat [ [| 0x5Buy; 0x80uy |]; encodeNameString (path "HPTM"); [| 0x00uy |]; encodeData (Integer 0xFED00000UL); encodeNameString (path "\\SIZE") ]
            let mutex = Array.concat [ [| 0x5Buy; 0x01uy |]; encodeNameString (path "CPLK"); [| 0x00uy |] ]
            let name = Name(path "ABCD", Integer 7UL)
            Expect.equal (decodeTerms (Array.concat [ region; mutex; encodeTerms [ name ] ])) [ Opaque region; Opaque mutex; name ] "decoded"
        }
        test "QEMU's DSDT shape: \\_S5 in Scope (\\) after a top-level Method (\\_GPE._E02) is found" {
            // The bytes of QEMU 7.2's pc DSDT (tests/linux-guest/qemu-reference/DSDT.dat) for these terms.
            let hex (text: string) = text.Split ' ' |> Array.map (fun b -> System.Convert.ToByte(b, 16))
            let debugRegion = hex "5B 80 44 42 47 5F 01 0B 02 04 01" // OperationRegion (DBG, SystemIO, 0x0402, One)
            let debugField = hex "5B 81 0B 44 42 47 5F 01 44 42 47 42 08" // Field (DBG, ByteAcc, NoLock, Preserve) { DBGB, 8 }
            // Method (DBUG, 1) { ToHexString (Arg0, Local0); ... While (...) { DBGB = DerefOf (Local0 [Local2]) ... } }
            let debugMethod =
                hex "14 2C 44 42 55 47 01 98 68 60 96 60 60 74 87 60 01 61 70 00 62 A2 10 95 62 61 70 83 88 60 62 00 44 42 47 42 75 62 70 0A 0A 44 42 47 42"
            let gpeMethod = hex "14 1B 5C 2E 5F 47 50 45 5F 45 30 32 00 5C 2F 03 5F 53 42 5F 43 50 55 53 43 53 43 4E" // Method (\_GPE._E02) { \_SB.CPUS.CSCN () }
            let sleepPackage typ = Package [ Integer typ; Integer typ; Integer 0UL; Integer 0UL ]
            let terms =
                [ Scope(path "\\", [ Opaque debugRegion; Opaque debugField; Opaque debugMethod ])
                  Opaque gpeMethod
                  Scope(path "\\", [ Name(path "_S3", sleepPackage 1UL); Name(path "_S4", sleepPackage 2UL); Name(path "_S5", sleepPackage 0UL) ]) ]
            let decoded = decodeTerms (encodeTerms terms)
            Expect.equal decoded terms "each unmodelled term is its own Opaque"
            Expect.equal (Dsdt.findS5 (dsdtWith decoded)) (Some 0uy) "QEMU's SLP_TYP for S5 is 0"
        }
        test "findS5 resolves \\_S5 declared inside Scope(\\) or relative to the root" {
            let s5 = Package [ Integer 3UL; Integer 3UL ]
            Expect.equal (Dsdt.findS5 (dsdtWith [ Scope(path "\\", [ Name(path "_S5", s5) ]) ])) (Some 3uy) "in Scope(\\)"
            Expect.equal (Dsdt.findS5 (dsdtWith [ Name(path "_S5", s5) ])) (Some 3uy) "relative at root"
            Expect.equal (Dsdt.findS5 (dsdtWith [ Scope(path "\\_SB", [ Name(path "_S5", s5) ]) ])) None "\\_SB._S5 is not \\_S5"
            Expect.equal (Dsdt.findS5 (dsdtWith [ Scope(path "\\_SB", [ Name(path "^_S5", s5) ]) ])) (Some 3uy) "^_S5 from \\_SB"
        }
        test "nesting far deeper than maxNesting decodes without exhausting the stack" {
            let deep = List.fold (fun inner _ -> Scope(path "DEEP", [ inner ])) (Name(path "LEAF", Integer 1UL)) [ 1..2000 ]
            match Dsdt.parse (Dsdt.serialize (dsdtWith [ deep ])) with
            | Ok d -> Expect.equal (encodeTerms d.Terms) (encodeTerms [ deep ]) "kept byte for byte"
            | Error e -> failtest (SsiHv.Core.Acpi.Binary.AcpiError.text e)
        }
    ]
