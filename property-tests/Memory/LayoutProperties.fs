module SsiHv.PropertyTests.Memory.LayoutProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Memory
open SsiHv.PropertyTests.Topology.TopologyGenerators

let config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let validTopology = validSpec |> Gen.map (Validation.validate >> function Ok t -> t | Error e -> failwithf "%A" e)

let private overlaps (a: uint64) (b: uint64) (r: Layout.MemoryRange) = r.Base < b && a < Layout.MemoryRange.endExclusive r

let tests =
    testList "memory layout" [
        testPropertyWithConfig config "ranges are ordered, disjoint and avoid the legacy and MMIO holes" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let ranges = Layout.ranges t
                let ordered = ranges |> List.pairwise |> List.forall (fun (a, b) -> Layout.MemoryRange.endExclusive a <= b.Base)
                let clear = ranges |> List.forall (fun r ->
                    not (overlaps Layout.legacyHoleStart Layout.legacyHoleEnd r)
                    && not (overlaps Layout.mmioHoleStart Layout.highMemoryStart r) && r.Length > 0UL)
                ordered && clear)

        testPropertyWithConfig config "each node gets its memory, the first memory node less the 384 KiB hole" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let firstMemoryNode = (Topology.memoryNodes t |> List.head).Id
                t.Nodes |> List.forall (fun n ->
                    let got = Layout.rangesOfNode t n.Id |> List.sumBy (fun r -> r.Length)
                    let hole = if n.Id = firstMemoryNode then Layout.legacyHoleEnd - Layout.legacyHoleStart else 0UL
                    got = uint64 n.MemoryMiB * Layout.MiB - hole))

        testPropertyWithConfig config "nodes are laid out in id order" <|
            Prop.forAll (Arb.fromGen validTopology) (fun t ->
                let owners = Layout.ranges t |> List.map (fun r -> r.Node)
                owners = List.sort owners)

        testCase "2 x 1 GiB is QEMU's layout (docs/vmm.md §1)" <| fun () ->
            let spec =
                { TopologySpec.Name = None
                  Nodes = Some [ { NodeSpec.Id = Some 0; Cpus = Some 2; MemoryMiB = Some 1024L; Address = None; Initiator = None }
                                 { NodeSpec.Id = Some 1; Cpus = Some 0; MemoryMiB = Some 1024L; Address = None; Initiator = Some 0 } ]
                  Distances = None; LatencyNs = None; BandwidthMBps = None; Caches = None; Placement = None }
            let t = match Validation.validate spec with Ok t -> t | Error e -> failwithf "%A" e
            let ranges = Layout.ranges t |> List.map (fun r -> r.Node, r.Base, r.Base + r.Length - 1UL)
            Expect.equal ranges [ NodeId 0, 0UL, 0x9FFFFUL; NodeId 0, 0x100000UL, 0x3FFFFFFFUL; NodeId 1, 0x40000000UL, 0x7FFFFFFFUL ] "ranges"
    ]
