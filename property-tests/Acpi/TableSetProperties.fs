/// The table set as a whole: built for every valid topology, placed without overlap in the BIOS area, linked
/// RSDP → XSDT → FACP → DSDT/FACS, internally consistent, and decoding to exactly the topology's NUMA machine.
module SsiHv.PropertyTests.Acpi.TableSetProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Topology
open SsiHv.Core.Memory
open SsiHv.Core.Acpi.NumaView
open SsiHv.PropertyTests.Memory.LayoutProperties

let private built t = match TableSet.build t with Ok tables -> tables | Error e -> failwith e

let private decoded t =
    let result = TableSet.decode (built t |> List.map (fun table -> table.Signature + ".dat", table.Bytes))
    if not result.Errors.IsEmpty then failwithf "our own tables failed to decode: %A" result.Errors
    result.Tables

/// What a guest must reconstruct, computed from the topology alone.
let private expectedView (t: Topology) : NumaView.NumaView =
    let cpuNodes = Topology.cpuNodes t
    let present = t.Nodes |> List.filter (fun n -> n.Cpus > 0 || n.MemoryMiB > 0L)
    let access =
        [ for i in Topology.initiatorNodes t do
            for j in Topology.memoryNodes t do
                let lat = t.LatencyNs |> Option.map (fun m -> uint64 m.[i.Id.Value].[j.Id.Value])
                let bw = t.BandwidthMBps |> Option.map (fun m -> uint64 m.[i.Id.Value].[j.Id.Value])
                if lat.IsSome || bw.IsSome then
                    yield ({ Initiator = uint32 i.Id.Value; Target = uint32 j.Id.Value; LatencyNs = lat; BandwidthMBps = bw }: AccessView) ]
    let cacheView (c: MemorySideCache) : CacheView =
        { Domain = uint32 c.Node.Value; SizeBytes = c.SizeBytes; Level = c.Level
          TotalLevels = t.Caches |> List.filter (fun o -> o.Node = c.Node) |> List.map (fun o -> o.Level) |> List.max
          Associativity = (match c.Associativity with NoneIndexed -> 0 | DirectMapped -> 1 | ComplexIndexed -> 2)
          WritePolicy = (match c.WritePolicy with NoWritePolicy -> 0 | WriteBack -> 1 | WriteThrough -> 2)
          LineBytes = c.LineBytes }
    let nodeView (n: Node) : NodeView =
        let ranges = Layout.rangesOfNode t n.Id |> List.map (fun r -> r.Base, r.Length)
        { Domain = uint32 n.Id.Value
          ApicIds = cpuNodes |> List.indexed |> List.filter (snd >> (=) n.Id) |> List.map (fst >> uint32)
          Ranges = ranges
          MemoryBytes = ranges |> List.sumBy snd
          Initiator = if n.MemoryMiB > 0L then n.Initiator |> Option.map (fun initiator -> uint32 initiator.Value) else None }
    { Nodes = present |> List.map nodeView
      Distances = Some t.Distances
      Access = access
      Caches = t.Caches |> List.sortBy (fun c -> c.Node, c.Level) |> List.map cacheView }

let tests =
    testList "ACPI table set" [
        testPropertyWithConfig config "tables are built for every valid topology, in the BIOS area, without overlap" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let tables = built t |> List.sortBy (fun x -> x.Address)
                tables.Head.Signature = "RSDP" && tables.Head.Address = TableSet.rsdpAddress
                && tables |> List.forall (fun x -> x.Address + uint64 x.Bytes.Length <= TableSet.areaEnd)
                && tables |> List.pairwise |> List.forall (fun (a, b) -> a.Address + uint64 a.Bytes.Length <= b.Address)
                && tables |> List.forall (fun x -> x.Signature <> "FACS" || x.Address % 64UL = 0UL))

        testPropertyWithConfig config "RSDP -> XSDT -> FACP -> DSDT/FACS pointers lead to the right tables" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let at = built t |> List.map (fun x -> x.Signature, x.Address) |> Map.ofList
                let d = decoded t
                d.Rsdp.Value.XsdtAddress = at.["XSDT"]
                && d.Xsdt.Value.Entries = [ at.["FACP"]; at.["APIC"]; at.["SRAT"]; at.["SLIT"]; at.["HMAT"] ]
                && Facp.dsdtAddress d.Facp.Value = at.["DSDT"] && Facp.facsAddress d.Facp.Value = at.["FACS"])

        testPropertyWithConfig config "our table sets pass every cross-table check" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let findings = Consistency.check (decoded t)
                findings.IsEmpty |> Prop.label (sprintf "%A" findings))

        testPropertyWithConfig config "the NUMA machine decoded from the tables is the topology" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let actual = NumaView.ofTables (decoded t)
                let expected = expectedView t
                (actual = expected) |> Prop.label (sprintf "expected %A\nactual %A" expected actual))

        testCase "a wrong SLIT diagonal, an SRAT domain beyond the SLIT and an HMAT target without memory are found" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 1; MemoryMiB = Some 64L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 64L; Address = None; Initiator = Some 0 } ]
                  Distances = None; LatencyNs = Some [ [ 10L; 20L ]; [ 20L; 10L ] ]; BandwidthMBps = None; Caches = None; Placement = None }
            let t = match Validation.validate spec with Ok t -> t | Error e -> failwithf "%A" e
            let d = decoded t
            let badSlit = { d.Slit.Value with Distances = [ [ 11uy ] ] }
            let noNode1Memory = { d.Srat.Value with Entries = d.Srat.Value.Entries |> List.filter (function Srat.Memory m -> m.Domain = 0u | _ -> true) }
            let findings = Consistency.check { d with Slit = Some badSlit; Srat = Some noNode1Memory } |> List.map Consistency.text
            Expect.contains findings "SLIT: entry [0][0] is 11; a locality's distance to itself must be 10" "diagonal"
            Expect.isTrue (findings |> List.exists (fun f -> f.StartsWith "HMAT: " && f.Contains "memory domain 1")) (sprintf "HMAT target: %A" findings)
    ]
