module SsiHv.PropertyTests.Acpi.FacsProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

let facs = gen {
    let! hardwareSignature = anyUInt32
    let! wakingVector = anyUInt32
    let! globalLock = anyUInt32
    let! flags = anyUInt32
    let! xWakingVector = anyUInt64
    let! version = anyByte
    let! ospmFlags = anyUInt32
    return
        { Facs.HardwareSignature = hardwareSignature; Facs.FirmwareWakingVector = wakingVector; Facs.GlobalLock = globalLock
          Facs.Flags = flags; Facs.XFirmwareWakingVector = xWakingVector; Facs.Version = version; Facs.OspmFlags = ospmFlags } }

let tests =
    testList "FACS" [
        roundTrips Facs.serialize Facs.parse facs
        testProperty "length field = array size = 64" (Prop.forAll (Arb.fromGen facs) (fun f ->
            let bytes = Facs.serialize f
            bytes.Length = Facs.size && int (lengthField bytes 4) = Facs.size))
        parseNeverThrows "FACS" Facs.parse (facs |> Gen.map Facs.serialize) id
    ]
