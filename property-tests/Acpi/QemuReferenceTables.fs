/// QEMU 7.2's own tables for the topology in tests/linux-guest/qemu-reference/README.md, as a Linux guest read
/// them: our decoders must read a foreign firmware's set the way Linux does, without false findings.
module SsiHv.PropertyTests.Acpi.QemuReferenceTables

open Expecto
open SsiHv.Core.Acpi
open SsiHv.Core.Acpi.NumaView

/// The .dat files are copied next to the test assembly (see the project file).
let private tableFile (signature: string) =
    let file = signature + ".dat"
    file, System.IO.File.ReadAllBytes(System.IO.Path.Combine(System.AppContext.BaseDirectory, "qemu-reference", file))

let private qemuSet () = [ "DSDT"; "FACP"; "APIC"; "SRAT"; "SLIT"; "HMAT" ] |> List.map tableFile

let tests =
    testList "QEMU's reference tables" [
        test "QEMU's DSDT decodes byte for byte and declares \\_S5 with SLP_TYP 0" {
            let _, bytes = tableFile "DSDT"
            match Dsdt.parse bytes with
            | Ok dsdt ->
                Expect.equal (Dsdt.serialize dsdt) bytes "re-encoded"
                Expect.equal (Dsdt.findS5 dsdt) (Some 0uy) "\\_S5 is Package { Zero, Zero, Zero, Zero } in Scope (\\)"
            | Error e -> failtest (Binary.AcpiError.text e)
        }
        test "QEMU's full set decodes without errors and passes every consistency check" {
            let decoded = TableSet.decode (qemuSet ())
            Expect.isEmpty decoded.Errors "decode errors"
            Expect.isEmpty (Consistency.check decoded.Tables |> List.map Consistency.text) "findings"
        }
        test "QEMU's set decodes to the README's machine, HMAT values normalized as Linux does" {
            let view = NumaView.ofTables (TableSet.decode (qemuSet ())).Tables
            Expect.equal (view.Nodes |> List.map (fun n -> n.Domain, n.ApicIds, n.MemoryBytes, n.Initiator))
                [ 0u, [ 0u; 1u ], 512UL * 1024UL * 1024UL - 0x60000UL, Some 0u; 1u, [], 512UL * 1024UL * 1024UL, Some 0u ] "nodes"
            Expect.equal view.Distances (Some [ [ 10; 21 ]; [ 21; 10 ] ]) "SLIT"
            Expect.equal view.Access
                [ { Initiator = 0u; Target = 0u; LatencyNs = Some 10UL; BandwidthMBps = Some 10240UL }
                  { Initiator = 0u; Target = 1u; LatencyNs = Some 20UL; BandwidthMBps = Some 5120UL } ] "latency and bandwidth"
        }
    ]
