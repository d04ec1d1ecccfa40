/// How much guest RAM a cluster VM keeps resident on the boot node (docs/node-host.md, `memoryBudgetMiB`).
module SsiHv.Core.Vm.MemoryBudget

open SsiHv.Core.Topology

/// The boot node's configured budget, or else the whole guest: every page then stays resident on the boot
/// node, while the pager still homes each page on the node the topology gives it.
let ofClusterVm (configuredMiB: int64 option) (topology: Topology) : uint64 =
    uint64 (defaultArg configuredMiB (Topology.totalMemoryMiB topology)) * 1024UL * 1024UL
