namespace SsiHv.Core.Topology

/// A node host, by its topology id (docs/design.md §4.2). Every transfer names one, because pages move between
/// nodes and vCPUs may come to run on several of them (docs/design.md §7). A type of its own, so that a node id
/// cannot be passed where a CPU count, a slot index or an ACPI proximity domain is expected.
[<Struct>]
type NodeId =
    | NodeId of int

    member node.Value = let (NodeId value) = node in value

    /// The bare number: logs, problem details and HTTP routes name a node by its id alone, as the topology
    /// file does, so a NodeId interpolated into text reads the same as the number it wraps.
    override node.ToString() = string node.Value
