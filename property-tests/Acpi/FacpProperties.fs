module SsiHv.PropertyTests.Acpi.FacpProperties

open Expecto
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Facp
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

let genericAddress = gen {
    let! space = anyByte
    let! width = anyByte
    let! offset = anyByte
    let! access = anyByte
    let! address = anyUInt64
    return { AddressSpace = space; BitWidth = width; BitOffset = offset; AccessSize = access; Address = address } }

let fadt = gen {
    let! h = header Facp.signature
    let! b = Gen.arrayOfLength 12 anyByte
    let! w = Gen.arrayOfLength 4 anyUInt16
    let! d = Gen.arrayOfLength 10 anyUInt32
    let! q = Gen.arrayOfLength 3 anyUInt64
    let! g = Gen.arrayOfLength 9 genericAddress
    return
        { Header = h; FirmwareControl = d.[0]; Dsdt = d.[1]; PreferredPmProfile = b.[0]; SciInterrupt = w.[0]
          SmiCommand = d.[2]; AcpiEnable = b.[1]; AcpiDisable = b.[2]; Pm1aEventBlock = d.[3]; Pm1bEventBlock = d.[4]
          Pm1aControlBlock = d.[5]; Pm1bControlBlock = d.[6]; PmTimerBlock = d.[7]; Gpe0Block = d.[8]
          Pm1EventLength = b.[3]; Pm1ControlLength = b.[4]; PmTimerLength = b.[5]; Gpe0BlockLength = b.[6]
          C2Latency = w.[1]; C3Latency = w.[2]; Century = b.[7]; BootArchitecture = w.[3]; Flags = d.[9]
          ResetRegister = g.[0]; ResetValue = b.[8]; MinorVersion = b.[9]; XFirmwareControl = q.[0]; XDsdt = q.[1]
          XPm1aEventBlock = g.[1]; XPm1bEventBlock = g.[2]; XPm1aControlBlock = g.[3]; XPm1bControlBlock = g.[4]
          XPmTimerBlock = g.[5]; XGpe0Block = g.[6]; SleepControlRegister = g.[7]; SleepStatusRegister = g.[8]
          HypervisorVendorIdentity = q.[2] } }

/// An older FADT: ours cut to `length` bytes, with the header's length, revision and checksum made to agree.
let private shortened (length: int) (revision: byte) =
    let bytes = Array.sub (Facp.serialize (Facp.ours 0x1000UL 0x2000UL)) 0 length
    Array.blit (u32 (uint32 length)) 0 bytes 4 4
    bytes.[8] <- revision
    withHeaderChecksum bytes

let tests =
    testList "FACP" [
        roundTrips Facp.serialize Facp.parse fadt
        headerInvariants Facp.serialize fadt
        parseNeverThrows "FACP" Facp.parse (fadt |> Gen.map Facp.serialize) withHeaderChecksum
        test "ours is a 276-byte revision 6.5 FADT pointing at the FACS and DSDT through the X_ fields" {
            let ours = Facp.ours 0x1000UL 0x2000UL
            Expect.equal (Facp.serialize ours).Length Facp.size "length"
            Expect.equal (Facp.dsdtAddress ours, Facp.facsAddress ours) (0x2000UL, 0x1000UL) "addresses"
            Expect.equal (ours.Dsdt, ours.FirmwareControl) (0u, 0u) "32-bit twins unset"
            Expect.equal ours.XPm1aControlBlock.Address (uint64 ours.Pm1aControlBlock) "PM1a control agrees"
            Expect.equal ours.XPm1aEventBlock.Address (uint64 ours.Pm1aEventBlock) "PM1a event agrees"
            Expect.equal (int ours.XPm1aEventBlock.BitWidth) (8 * int ours.Pm1EventLength) "PM1a event width agrees"
            Expect.equal (int ours.XPm1aControlBlock.BitWidth) (8 * int ours.Pm1ControlLength) "PM1a control width agrees"
            Expect.equal (ours.BootArchitecture &&& BootArchitecture.keyboardController8042) 0us "no 8042 announced"
            Expect.notEqual (ours.BootArchitecture &&& BootArchitecture.noCmosRtc) 0us "no CMOS RTC"
        }
        test "a revision 1 FADT (116 bytes) parses with the later fields absent" {
            let parsed = Facp.parse (shortened Facp.minimumSize 1uy)
            Expect.isOk parsed "parses"
            let f = Result.defaultWith (fun e -> failwith (AcpiError.text e)) parsed
            Expect.equal f.Pm1aControlBlock (uint32 Facp.pm1aControlPort) "PM1a control kept"
            Expect.equal (f.XDsdt, f.ResetRegister, f.MinorVersion) (0UL, GenericAddress.none, 0uy) "later fields are 0"
        }
        test "revision 3 (244 bytes) and 5 (268 bytes) FADTs parse" {
            Expect.isOk (Facp.parse (shortened 244 3uy)) "revision 3"
            Expect.isOk (Facp.parse (shortened 268 5uy)) "revision 5"
        }
        test "a FADT shorter than revision 1 is an error" {
            Expect.isError (Facp.parse (shortened 100 1uy)) "100 bytes"
        }
    ]
