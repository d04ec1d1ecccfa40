module SsiHv.PropertyTests.Input.InputFileProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Input.InputFile

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private fileKinds = Gen.elements [ Regular; Directory; Fifo; CharacterDevice; BlockDevice; Socket; Other ]
let private inputKinds = Gen.elements [ Document; Kernel; Initrd ]

/// Sizes around each limit, and far from them.
let private sizes =
    Gen.oneof
        [ Gen.choose64 (0L, 1L <<< 32)
          inputKinds |> Gen.bind (fun kind -> Gen.choose64 (-2L, 2L) |> Gen.map (fun d -> InputKind.limitBytes kind + d))
          Gen.constant 0L ]

let tests =
    testList "input files" [
        testPropertyWithConfig config "only a regular file at most its kind's limit is read" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 inputKinds fileKinds sizes)) (fun (kind, fileKind, size) ->
                let admitted = admit kind fileKind size = Ok()
                admitted = (fileKind = Regular && size <= InputKind.limitBytes kind))

        testPropertyWithConfig config "a refusal says what the file is, or the limit it passed" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 inputKinds fileKinds sizes)) (fun (kind, fileKind, size) ->
                match admit kind fileKind size with
                | Ok() -> true
                | Error(NotARegularFile found as error) -> found = fileKind && (InputFileError.text error).EndsWith "not a regular file"
                | Error(TooLarge(found, k) as error) ->
                    found = size && k = kind && (InputFileError.text error).Contains(sprintf "%d MiB" (InputKind.limitBytes kind >>> 20)))

        test "the messages" {
            Expect.equal (InputFileError.text (NotARegularFile CharacterDevice)) "is a character device, not a regular file" "a device"
            Expect.equal (InputFileError.text (TooLarge(2L <<< 20, Document)))
                "is larger than the 1 MiB a document may have (2097152 bytes or more)" "too large"
        }
    ]
