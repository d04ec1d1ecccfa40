module SsiHv.PropertyTests.Acpi.MadtProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Acpi.Madt
open SsiHv.Core.Topology
open SsiHv.PropertyTests.Acpi.CoreTableGenerators

let private modelledTypes = set [ 0uy; 1uy; 2uy; 4uy; 9uy; 10uy ]

let entry =
    Gen.oneof
        [ Gen.map3 (fun uid id flags -> LocalApic { ProcessorUid = uid; ApicId = id; Flags = flags }) anyByte anyByte anyUInt32
          Gen.map3 (fun id address gsi -> IoApic { Id = id; Address = address; GsiBase = gsi }) anyByte anyUInt32 anyUInt32
          Gen.map4 (fun bus source gsi flags -> InterruptSourceOverride { Bus = bus; Source = source; Gsi = gsi; Flags = flags })
              anyByte anyByte anyUInt32 anyUInt16
          Gen.map3 (fun uid flags lint -> LocalApicNmi { ProcessorUid = uid; Flags = flags; Lint = lint }) anyByte anyUInt16 anyByte
          Gen.map3 (fun id flags uid -> LocalX2Apic { X2ApicId = id; Flags = flags; ProcessorUid = uid }) anyUInt32 anyUInt32 anyUInt32
          Gen.map3 (fun flags uid lint -> LocalX2ApicNmi { Flags = flags; ProcessorUid = uid; Lint = lint }) anyUInt16 anyUInt32 anyByte
          Gen.map2 (fun kind body -> Other(kind, body)) (anyByte |> Gen.filter (fun k -> not (modelledTypes.Contains k))) (bytesUpTo 40) ]

let madt = gen {
    let! header = header Madt.signature
    let! address = anyUInt32
    let! flags = anyUInt32
    let! entries = Gen.listOf entry
    return { Header = header; LocalApicAddress = address; Flags = flags; Entries = entries } }

let topologyWithCpus (counts: int list) =
    { Name = "test"
      Nodes = counts |> List.mapi (fun i cpus -> { Id = NodeId i; Cpus = cpus; MemoryMiB = 512L; Address = None; Initiator = Some(NodeId i) })
      Distances = counts |> List.mapi (fun i _ -> counts |> List.mapi (fun j _ -> if i = j then 10 else 20))
      LatencyNs = None
      BandwidthMBps = None
      Caches = []
      Placement = PagePlacement.FirstTouch }

let tests =
    testList "MADT" [
        roundTrips Madt.serialize Madt.parse madt
        headerInvariants Madt.serialize madt
        parseNeverThrows "MADT" Madt.parse (madt |> Gen.map Madt.serialize) withHeaderChecksum
        testProperty "ofTopology has one processor entry per CPU, APIC ID = UID = CPU index" (Prop.forAll (Arb.fromGen (Gen.choose (0, 600))) (fun cpus ->
            let ids =
                (Madt.ofTopology (topologyWithCpus [ cpus ])).Entries
                |> List.choose (function
                    | LocalApic e when e.Flags = enabled && e.ApicId = e.ProcessorUid -> Some(int e.ApicId)
                    | LocalX2Apic e when e.Flags = enabled && e.X2ApicId = e.ProcessorUid && e.X2ApicId >= 255u -> Some(int e.X2ApicId)
                    | _ -> None)
            ids = List.init cpus id))
        test "ours for 4 CPUs on 2 nodes: 4 local APICs, the I/O APIC, IRQ0->GSI2, IRQ9 level/high, LINT1 NMI" {
            let m = Madt.ofTopology (topologyWithCpus [ 2; 2 ])
            Expect.equal (m.LocalApicAddress, m.Flags, m.Header.Revision) (0xFEE00000u, pcatCompat, 5uy) "header fields"
            Expect.equal
                (List.skip 4 m.Entries)
                [ IoApic { Id = 0uy; Address = 0xFEC00000u; GsiBase = 0u }
                  InterruptSourceOverride { Bus = 0uy; Source = 0uy; Gsi = 2u; Flags = 0us }
                  InterruptSourceOverride { Bus = 0uy; Source = 9uy; Gsi = 9u; Flags = 0x0Dus }
                  LocalApicNmi { ProcessorUid = 0xFFuy; Flags = 0us; Lint = 1uy } ]
                "entries after the CPUs"
        }
        test "x2APIC entries and the x2APIC NMI appear exactly when a CPU has APIC ID 255 or more" {
            let hasX2Nmi cpus = (Madt.ofTopology (topologyWithCpus [ cpus ])).Entries |> List.exists (function LocalX2ApicNmi _ -> true | _ -> false)
            Expect.isFalse (hasX2Nmi 255) "255 CPUs: IDs 0..254"
            Expect.isTrue (hasX2Nmi 256) "256 CPUs: ID 255 needs x2APIC"
        }
        test "a known structure with the wrong length is an error naming its offset" {
            let bytes = Madt.serialize { Madt.ofTopology (topologyWithCpus [ 1 ]) with Entries = [ Other(5uy, [||]) ] }
            bytes.[Header.size + 8] <- 0uy // type 5 -> type 0, which must be 8 bytes long
            match Madt.parse (withHeaderChecksum bytes) with
            | Error e -> Expect.equal e.Offset (Header.size + 8) "offset"
            | Ok _ -> failtest "accepted a 2-byte Local APIC structure"
        }
        test "a MADT with 4096 x2APIC CPUs parses" {
            let m = Madt.ofTopology (topologyWithCpus [ 4096 ])
            Expect.equal (Madt.parse (Madt.serialize m)) (Ok m) "round trip"
        }
        // A hostile table of tens of thousands of 2-byte structures must not exhaust the parser's stack.
        test "a MADT with 100000 structures parses" {
            let m = { Madt.ofTopology (topologyWithCpus [ 1 ]) with Entries = List.replicate 100000 (Other(200uy, [||])) }
            Expect.equal (Madt.parse (Madt.serialize m)) (Ok m) "round trip"
        }
    ]
