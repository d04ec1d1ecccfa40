module SsiHv.PropertyTests.Text.Utf8TextProperties

open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Text

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

/// Text with multi-byte characters: ASCII, Latin, CJK and a character outside the BMP.
let private texts =
    Gen.elements [ "a"; "{"; "é"; "中"; "𝄞"; " "; "\"" ] |> Gen.listOf |> Gen.map (String.concat "")

/// Bytes that never occur in UTF-8, and a continuation byte without its lead.
let private breakers = Gen.elements [ 0xFFuy; 0xC0uy; 0xF8uy; 0x80uy ]

let tests =
    testList "UTF-8 text" [
        testPropertyWithConfig config "text encoded as UTF-8 passes" <|
            Prop.forAll (Arb.fromGen texts) (fun text -> Utf8Text.check (Encoding.UTF8.GetBytes text) = Ok())

        testPropertyWithConfig config "a breaking byte after valid text is found at its offset" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 texts breakers texts)) (fun (before, breaker, after) ->
                let prefix = Encoding.UTF8.GetBytes(before: string)
                let bytes = Array.concat [ prefix; [| breaker |]; Encoding.UTF8.GetBytes(after: string) ]
                Utf8Text.check bytes = Error { Offset = prefix.Length; Byte = breaker })

        test "a multi-byte sequence cut short is found where it starts" {
            let bytes = Array.append (Encoding.UTF8.GetBytes "{\"name\":\"") [| 0xE4uy; 0xB8uy |]
            Expect.equal (Utf8Text.check bytes) (Error { Offset = 9; Byte = 0xE4uy }) "the lead byte of the cut sequence"
            Expect.equal (Utf8Text.InvalidUtf8.text { Offset = 9; Byte = 0xE4uy }) "not valid UTF-8: byte 0xE4 at offset 9" "the message"
        }
    ]
