/// `NumaView` must read tables exactly as Linux does: HMAT values through hmat_normalize's 32-bit arithmetic,
/// and SRAT proximity domains at the width the table's revision gives them.
module SsiHv.PropertyTests.Acpi.NumaViewProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.PropertyTests.Memory.LayoutProperties
open SsiHv.PropertyTests.Acpi.TopologyTablesProperties

let private uintMax = uint64 System.UInt32.MaxValue
let private accessLatency = true
let private bandwidth = false

let private tablesWith (srat: Srat.Srat) : TableSet.DecodedTables =
    { Rsdp = None; Xsdt = None; Facp = None; Facs = None; Dsdt = None; Madt = None; Srat = Some srat; Slit = None
      Hmat = None; Unrecognized = [] }

/// Entries of every size, with base units around the 32-bit limit for that entry (where Linux starts dropping),
/// powers of ten (our encoding's), small ones, and any 64-bit value.
let private entryAndBase =
    gen {
        let! entry = Gen.frequency [ 1, Gen.elements [ 0us; 1us; 0xFFFEus; 0xFFFFus ]; 4, Gen.choose (0, 0xFFFF) |> Gen.map uint16 ]
        let atLimit = uintMax / uint64 (max entry 1us)
        let! baseUnit =
            Gen.oneof
                [ Gen.choose (-1000, 1000) |> Gen.map (fun d -> uint64 (max 0L (int64 atLimit + int64 d)))
                  Gen.choose (0, 19) |> Gen.map (fun k -> pown 10UL k)
                  Gen.choose (0, 100000) |> Gen.map uint64
                  Gen.map2 (fun (high: int) (low: int) -> (uint64 (uint32 high) <<< 32) ||| uint64 (uint32 low))
                      (Gen.choose (System.Int32.MinValue, System.Int32.MaxValue)) (Gen.choose (System.Int32.MinValue, System.Int32.MaxValue)) ]
        return entry, baseUnit
    }

/// Arbitrary SRATs with domains of any width, and the revisions on both sides of Linux's 8-bit cut-off.
let private sratOfLowRevision =
    let anyDomain = Gen.oneof [ Gen.choose (0, 300); Gen.choose (0, System.Int32.MaxValue) ] |> Gen.map uint32
    let withDomain (entry: Srat.SratEntry) domain =
        match entry with
        | Srat.ProcessorApic p -> Srat.ProcessorApic { p with Domain = domain }
        | Srat.Memory m -> Srat.Memory { m with Domain = domain }
        | Srat.ProcessorX2Apic x -> Srat.ProcessorX2Apic { x with Domain = domain }
        | other -> other
    gen {
        let! table = srat
        let! revision = Gen.elements [ 0uy; 1uy; 2uy; 3uy ]
        let! domains = Gen.listOfLength table.Entries.Length anyDomain
        return { table with Header = { table.Header with Revision = revision }; Entries = List.map2 withDomain table.Entries domains }
    }

let tests =
    testList "NumaView reads tables as Linux does" [
        testProperty "an HMAT value is dropped exactly when its entry is 0 or 0xFFFF or entry x base exceeds 32 bits" <|
            Prop.forAll (Arb.fromGen entryAndBase) (fun (entry, baseUnit) ->
                let fits = entry <> 0us && entry <> 0xFFFFus && bigint entry * bigint baseUnit <= bigint uintMax
                let bandwidthValue = NumaView.normalize 2uy bandwidth baseUnit entry
                (bandwidthValue = if fits then Some(uint64 entry * baseUnit) else None)
                |> Prop.label (sprintf "entry %d x base %d read as %A" entry baseUnit bandwidthValue))

        testProperty "revision 2 latencies are picoseconds rounded up to ns, unless 32-bit rounding wraps" <|
            Prop.forAll (Arb.fromGen entryAndBase) (fun (entry, baseUnit) ->
                let product = bigint entry * bigint baseUnit
                let expected =
                    // DIV_ROUND_UP adds 999 in 32 bits; within 999 of UINT_MAX that wraps and the result is 0.
                    if entry = 0us || entry = 0xFFFFus || product + 999I > bigint uintMax then None
                    else Some(uint64 ((product + 999I) / 1000I))
                NumaView.normalize 2uy accessLatency baseUnit entry = expected)

        test "hmat_normalize examples" {
            Expect.equal (NumaView.normalize 2uy accessLatency 10000UL 1us) (Some 10UL) "10000 ps = 10 ns"
            Expect.equal (NumaView.normalize 2uy accessLatency 1UL 1500us) (Some 2UL) "1500 ps rounds up to 2 ns"
            Expect.equal (NumaView.normalize 2uy accessLatency 100_000_000UL 50us) None "5e9 ps does not fit 32 bits"
            Expect.equal (NumaView.normalize 2uy accessLatency 196611UL 21845us) None "UINT_MAX ps: DIV_ROUND_UP wraps"
            Expect.equal (NumaView.normalize 2uy bandwidth 196611UL 21845us) (Some uintMax) "UINT_MAX MB/s is kept"
            Expect.equal (NumaView.normalize 2uy bandwidth 1UL 0xFFFFus) None "0xFFFF means no information"
            Expect.equal (NumaView.normalize 1uy accessLatency 1UL 9us) None "revision 1: below 10 is dropped"
            Expect.equal (NumaView.normalize 1uy accessLatency 1UL 10us) (Some 1UL) "revision 1: tenths"
            Expect.equal (NumaView.normalize 1uy bandwidth 1UL 11us) (Some 2UL) "revision 1: rounded up"
            Expect.equal (NumaView.normalize 3uy bandwidth 1UL 100us) None "Linux ignores other HMAT revisions"
        }

        testPropertyWithConfig config "SRAT domains are 8 bits for revision 1 and older (processor and memory entries), full otherwise" <|
            Prop.forAll (Arb.fromGen sratOfLowRevision) (fun table ->
                let narrow = table.Header.Revision <= 1uy
                let asLinux (domain: uint32) = if narrow then domain &&& 0xFFu else domain
                let view = NumaView.ofTables (tablesWith table)
                let domainOfApic apicId = view.Nodes |> List.filter (fun n -> List.contains apicId n.ApicIds) |> List.map (fun n -> n.Domain)
                let domainsOfRange range = view.Nodes |> List.filter (fun n -> List.contains range n.Ranges) |> List.map (fun n -> n.Domain)
                table.Entries |> List.forall (function
                    | Srat.ProcessorApic p when p.Flags &&& Srat.enabledFlag <> 0u -> List.contains (asLinux p.Domain) (domainOfApic (uint32 p.ApicId))
                    | Srat.ProcessorX2Apic x when x.Flags &&& Srat.enabledFlag <> 0u -> List.contains x.Domain (domainOfApic x.X2ApicId)
                    | Srat.Memory m when m.Flags &&& Srat.enabledFlag <> 0u && m.Length > 0UL ->
                        List.contains (asLinux m.Domain) (domainsOfRange (m.Base, m.Length))
                    | _ -> true))

        test "a revision-1 SRAT with domain 0x101 puts the CPU and the memory in domain 1; revision 3 in 0x101" {
            let entries =
                [ Srat.ProcessorApic { Domain = 0x101u; ApicId = 0uy; Flags = Srat.enabledFlag; SapicEid = 0uy; ClockDomain = 0u }
                  Srat.Memory { Domain = 0x101u; Base = 0UL; Length = 0x1000_0000UL; Flags = Srat.enabledFlag }
                  Srat.ProcessorX2Apic { Domain = 0x101u; X2ApicId = 300u; Flags = Srat.enabledFlag; ClockDomain = 0u } ]
            let viewAt revision =
                let table: Srat.Srat = { Header = Header.ours Srat.signature revision; Entries = entries }
                (NumaView.ofTables (tablesWith table)).Nodes |> List.map (fun n -> n.Domain, n.ApicIds, n.MemoryBytes)
            Expect.equal (viewAt 1uy) [ 1u, [ 0u ], 0x1000_0000UL; 0x101u, [ 300u ], 0UL ] "revision 1: x2APIC entries stay 32-bit"
            Expect.equal (viewAt 3uy) [ 0x101u, [ 0u; 300u ], 0x1000_0000UL ] "revision 3"
        }
    ]
