namespace SsiHv.Core.Topology

open System

/// The topology file as written by a user, before any rule is checked. Every field a user may omit is an
/// option so that "missing" can be reported by the validator with the field's path, like any other error.
type CacheSpec =
    { Node: int option
      SizeMiB: int64 option
      Level: int option
      Associativity: string option
      WritePolicy: string option
      LineBytes: int option }

type NodeSpec =
    { Id: int option
      Cpus: int option
      MemoryMiB: int64 option
      Address: string option
      Initiator: int option }

type TopologySpec =
    { Name: string option
      Nodes: NodeSpec list option
      Distances: int64 list list option
      LatencyNs: int64 list list option
      BandwidthMBps: int64 list list option
      Caches: CacheSpec list option
      /// "first-touch", "bind" or "interleave"; absent means first-touch.
      Placement: string option }

/// HMAT memory-side cache indexing (ACPI 6.5 table 5.154, bits 8..11 of Cache Attributes).
type CacheAssociativity =
    | NoneIndexed
    | DirectMapped
    | ComplexIndexed

/// HMAT memory-side cache write policy (bits 12..15 of Cache Attributes).
type CacheWritePolicy =
    | NoWritePolicy
    | WriteBack
    | WriteThrough

/// Which node homes a guest page (the topology's `placement` field; docs/pager.md).
[<RequireQualifiedAccess>]
type PagePlacement =
    /// Homed on the node that first touches it while that node's memory lasts (the default, as Linux's).
    | FirstTouch
    /// Homed on the node the SRAT assigns its address to.
    | Bind
    /// Spread round-robin over the memory nodes by page number.
    | Interleave

type MemorySideCache =
    { Node: NodeId
      SizeBytes: uint64
      Level: int
      Associativity: CacheAssociativity
      WritePolicy: CacheWritePolicy
      LineBytes: int }

type Node =
    { Id: NodeId
      Cpus: int
      MemoryMiB: int64
      Address: string option
      /// The node whose CPUs are closest to this node's memory: itself when it has CPUs, the `initiator`
      /// field for a memory-only node, None when a memory-only node names none.
      Initiator: NodeId option }

/// A topology that obeys every rule of docs/design.md §4.2. Only `Validation.validate` builds one, so code that
/// receives a Topology never re-checks it. Matrices are indexed [from/initiator][to/target] by node id.
type Topology =
    { Name: string
      Nodes: Node list
      /// The SLIT, resolved: explicit, derived from latencies, or the 10/20 default.
      Distances: int list list
      LatencyNs: int64 list list option
      BandwidthMBps: int64 list list option
      Caches: MemorySideCache list
      /// How guest pages are homed; FirstTouch when the file does not say.
      Placement: PagePlacement }

/// A broken rule: the JSON path of the offending field and what was expected there.
type TopologyError = { Path: string; Message: string }

module Topology =
    let nodeCount (t: Topology) = List.length t.Nodes
    let totalCpus (t: Topology) = t.Nodes |> List.sumBy (fun n -> n.Cpus)
    let totalMemoryMiB (t: Topology) = t.Nodes |> List.sumBy (fun n -> n.MemoryMiB)

    /// CPUs are numbered node by node (docs/design.md §4.2): the node owning CPU `cpu`.
    let nodeOfCpu (t: Topology) (cpu: int) =
        let rec find acc nodes =
            match nodes with
            | [] -> None
            | (n: Node) :: rest -> if cpu < acc + n.Cpus then Some n.Id else find (acc + n.Cpus) rest
        if cpu < 0 then None else find 0 t.Nodes

    /// Node id of every CPU, in CPU (= APIC ID) order.
    let cpuNodes (t: Topology) =
        t.Nodes |> List.collect (fun n -> List.replicate n.Cpus n.Id)

    let initiatorNodes (t: Topology) = t.Nodes |> List.filter (fun n -> n.Cpus > 0)
    let memoryNodes (t: Topology) = t.Nodes |> List.filter (fun n -> n.MemoryMiB > 0L)

    let errorText (e: TopologyError) = String.Format("{0}: {1}", e.Path, e.Message)
