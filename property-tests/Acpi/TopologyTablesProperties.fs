/// Properties of the three tables that carry the topology: SRAT, SLIT and HMAT, both for arbitrary table
/// models (round trip, checksum, length) and for the tables built from valid topologies (coverage, indexing).
module SsiHv.PropertyTests.Acpi.TopologyTablesProperties

open System.Buffers.Binary
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Topology
open SsiHv.Core.Memory
open SsiHv.Core.Numa
open SsiHv.PropertyTests.Memory.LayoutProperties

let private fixedText width = Gen.arrayOfLength width (Gen.choose (0x20, 0x7E) |> Gen.map char) |> Gen.map System.String

let header signature =
    gen {
        let! revision = Gen.choose (0, 255)
        let! oemId = fixedText 6
        let! oemTableId = fixedText 8
        let! oemRevision = ArbMap.defaults |> ArbMap.generate<uint32>
        let! creatorId = fixedText 4
        let! creatorRevision = ArbMap.defaults |> ArbMap.generate<uint32>
        return { Header.Signature = signature; Header.Revision = byte revision; Header.OemId = oemId
                 Header.OemTableId = oemTableId; Header.OemRevision = oemRevision; Header.CreatorId = creatorId
                 Header.CreatorRevision = creatorRevision }
    }

let private any<'a> = ArbMap.defaults |> ArbMap.generate<'a>
let private bytesOf n = Gen.listOfLength n any<byte>

let private sratEntry =
    Gen.oneof
        [ gen {
              let! d = any<uint32>
              let! a = any<byte>
              let! f = any<uint32>
              let! e = any<byte>
              let! c = any<uint32>
              return Srat.ProcessorApic { Domain = d; ApicId = a; Flags = f; SapicEid = e; ClockDomain = c } }
          gen {
              let! d = any<uint32>
              let! b = any<uint64>
              let! l = any<uint64>
              let! f = any<uint32>
              return Srat.Memory { Domain = d; Base = b; Length = l; Flags = f } }
          gen {
              let! d = any<uint32>
              let! x = any<uint32>
              let! f = any<uint32>
              let! c = any<uint32>
              return Srat.ProcessorX2Apic { Domain = d; X2ApicId = x; Flags = f; ClockDomain = c } }
          gen {
              let! kind = Gen.choose (3, 255)
              let! n = Gen.choose (0, 40)
              let! raw = bytesOf n
              return Srat.OtherSrat(byte kind, raw) } ]

let srat = Gen.map2 (fun h e -> ({ Header = h; Entries = e }: Srat.Srat)) (header "SRAT") (Gen.listOf sratEntry)

let slit =
    gen {
        let! h = header "SLIT"
        let! n = Gen.choose (0, 12)
        let! rows = Gen.listOfLength n (bytesOf n)
        return ({ Header = h; Distances = rows }: Slit.Slit)
    }

let private hmatEntry =
    Gen.oneof
        [ Gen.map3 (fun f i m -> Hmat.DomainAttributes { Hmat.MemoryDomainAttributes.Flags = f; InitiatorDomain = i; MemoryDomain = m }) any any any
          gen {
              let! m = Gen.choose (0, 5)
              let! n = Gen.choose (0, 5)
              let! flags = any<byte>
              let! dataType = Gen.choose (0, 5)
              let! minTransfer = any<byte>
              let! baseUnit = any<uint64>
              let! initiators = Gen.listOfLength m any<uint32>
              let! targets = Gen.listOfLength n any<uint32>
              let! entries = Gen.listOfLength m (Gen.listOfLength n any<uint16>)
              return Hmat.Locality { Hmat.LocalityInfo.Flags = flags; DataType = LanguagePrimitives.EnumOfValue(byte dataType); MinTransferSize = minTransfer
                                     BaseUnit = baseUnit; Initiators = initiators; Targets = targets; Entries = entries } }
          gen {
              let! m = any<uint32>
              let! size = any<uint64>
              let! attributes = any<uint32>
              let! k = Gen.choose (0, 4)
              let! handles = Gen.listOfLength k any<uint16>
              return Hmat.Cache { MemoryDomain = m; SizeBytes = size; Attributes = attributes; SmbiosHandles = handles } }
          gen {
              let! kind = Gen.choose (3, 0xFFFF)
              let! n = Gen.choose (0, 40)
              let! raw = bytesOf n
              return Hmat.OtherHmat(uint16 kind, raw) } ]

let hmat = Gen.map2 (fun h e -> ({ Header = h; Entries = e }: Hmat.Hmat)) (header "HMAT") (Gen.listOf hmatEntry)

/// Checksum and length properties every SDT must satisfy.
let wellFormed (bytes: byte[]) =
    Binary.byteSum bytes = 0 && int (BinaryPrimitives.ReadUInt32LittleEndian(System.ReadOnlySpan(bytes, 4, 4))) = bytes.Length

let private hmatOf t = match Hmat.ofTopology t with Ok h -> h | Error e -> failwith e

let private localities (h: Hmat.Hmat) = h.Entries |> List.choose (function Hmat.Locality l -> Some l | _ -> None)

let private sratMemory (s: Srat.Srat) = s.Entries |> List.choose (function Srat.Memory m -> Some m | _ -> None)

let private sratCpus (s: Srat.Srat) =
    s.Entries
    |> List.choose (function
        | Srat.ProcessorApic p -> Some(uint32 p.ApicId, p.Domain)
        | Srat.ProcessorX2Apic x -> Some(x.X2ApicId, x.Domain)
        | _ -> None)

let private roundTrip name gen serialize parse =
    testPropertyWithConfig config (name + ": parse (serialize t) = t, checksum 0, length = size") <|
        Prop.forAll (Arb.fromGen gen) (fun t ->
            let bytes = serialize t
            parse bytes = Ok t && wellFormed bytes)

let private neverThrows name parse =
    testPropertyWithConfig config (name + ": parse never throws on arbitrary bytes") <| fun (bytes: byte[]) ->
        parse bytes |> ignore
        true

/// A flipped byte is caught by the checksum; with the checksum repaired it reaches the structure parsers,
/// which must then answer with a value (Ok or Error) and never throw.
let private corruptionHandled name gen serialize parse =
    testPropertyWithConfig config (name + ": a flipped byte is reported; with the checksum repaired it is parsed or reported, never thrown") <|
        Prop.forAll (Arb.fromGen (Gen.zip gen (Gen.choose (0, System.Int32.MaxValue)))) (fun (t, seed) ->
            let bytes: byte[] = serialize t
            let i = seed % bytes.Length
            let corrupted = Array.copy bytes
            corrupted.[i] <- corrupted.[i] ^^^ 0x5Auy
            let detected = Result.isError (parse corrupted)
            if i <> 9 then
                corrupted.[9] <- 0uy
                corrupted.[9] <- Binary.checksumOf corrupted
            parse corrupted |> ignore
            detected)

let tests =
    testList "SRAT, SLIT, HMAT" [
        roundTrip "SRAT" srat Srat.serialize Srat.parse
        roundTrip "SLIT" slit Slit.serialize Slit.parse
        roundTrip "HMAT" hmat Hmat.serialize Hmat.parse
        neverThrows "SRAT" Srat.parse
        neverThrows "SLIT" Slit.parse
        neverThrows "HMAT" Hmat.parse
        corruptionHandled "SRAT" srat Srat.serialize Srat.parse
        corruptionHandled "SLIT" slit Slit.serialize Slit.parse
        corruptionHandled "HMAT" hmat Hmat.serialize Hmat.parse

        testPropertyWithConfig config "tables built from a topology round-trip and are well formed" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let s, l, h = Srat.ofTopology t, Slit.ofTopology t, hmatOf t
                Srat.parse (Srat.serialize s) = Ok s && Slit.parse (Slit.serialize l) = Ok l && Hmat.parse (Hmat.serialize h) = Ok h
                && wellFormed (Srat.serialize s) && wellFormed (Slit.serialize l) && wellFormed (Hmat.serialize h))

        testPropertyWithConfig config "SRAT covers every RAM byte of the layout exactly once, with its home node" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let entries = sratMemory (Srat.ofTopology t) |> List.sortBy (fun m -> m.Base)
                let disjoint = entries |> List.pairwise |> List.forall (fun (a, b) -> a.Base + a.Length <= b.Base)
                let asRanges = entries |> List.map (fun m -> { Layout.MemoryRange.Node = NodeId(int m.Domain); Layout.MemoryRange.Base = m.Base; Layout.MemoryRange.Length = m.Length })
                disjoint && asRanges = Layout.ranges t && (entries |> List.sumBy (fun m -> m.Length)) = Layout.usableBytes t)

        testPropertyWithConfig config "SRAT lists every CPU exactly once, APIC ID = CPU index, on its node" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let cpus = sratCpus (Srat.ofTopology t)
                cpus = (Topology.cpuNodes t |> List.mapi (fun cpu node -> uint32 cpu, uint32 node.Value)))

        testPropertyWithConfig config "SLIT is the resolved distance matrix and obeys Linux's rules" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let d = (Slit.ofTopology t).Distances
                d = (t.Distances |> List.map (List.map byte))
                && d |> List.indexed |> List.forall (fun (i, row) ->
                    row |> List.indexed |> List.forall (fun (j, v) -> Distances.isValidEntry i j (int64 v))))

        testPropertyWithConfig config "HMAT entries are indexed initiator row x target column, also when non-square" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let initiators = Topology.initiatorNodes t |> List.map (fun n -> n.Id.Value)
                let targets = Topology.memoryNodes t |> List.map (fun n -> n.Id.Value)
                let expected (l: Hmat.LocalityInfo) =
                    match l.DataType with
                    | Hmat.LocalityDataType.AccessLatency -> t.LatencyNs |> Option.map (fun m -> m, HmatEncoding.picosecondsPerNanosecond)
                    | _ -> t.BandwidthMBps |> Option.map (fun m -> m, 1L)
                localities (hmatOf t) |> List.forall (fun l ->
                    match expected l with
                    | None -> false
                    | Some(values, scale) ->
                        l.Initiators = (initiators |> List.map uint32) && l.Targets = (targets |> List.map uint32)
                        && List.length l.Entries = initiators.Length
                        && initiators |> List.indexed |> List.forall (fun (r, i) ->
                            targets |> List.indexed |> List.forall (fun (c, j) ->
                                uint64 l.Entries.[r].[c] * l.BaseUnit = uint64 (values.[i].[j] * scale)))))

        testPropertyWithConfig config "HMAT has one structure per given matrix, and every HMAT domain is in SRAT" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let h = hmatOf t
                let s = Srat.ofTopology t
                let memoryDomains = sratMemory s |> List.map (fun m -> m.Domain) |> Set.ofList
                let cpuDomains = sratCpus s |> List.map snd |> Set.ofList
                let hmatMemory =
                    h.Entries |> List.collect (function
                        | Hmat.DomainAttributes a -> [ a.MemoryDomain ]
                        | Hmat.Locality l -> l.Targets
                        | Hmat.Cache c -> [ c.MemoryDomain ]
                        | Hmat.OtherHmat _ -> [])
                let hmatInitiators =
                    h.Entries |> List.collect (function
                        | Hmat.DomainAttributes a when a.Flags &&& Hmat.initiatorValidFlag <> 0us -> [ a.InitiatorDomain ]
                        | Hmat.Locality l -> l.Initiators
                        | _ -> [])
                let structureCount = List.length (localities h)
                let expectedCount = (if t.LatencyNs.IsSome then 1 else 0) + (if t.BandwidthMBps.IsSome then 1 else 0)
                hmatMemory |> List.forall memoryDomains.Contains && hmatInitiators |> List.forall cpuDomains.Contains
                && structureCount = expectedCount)
    ]
