namespace SsiHv.Core.Cluster

open SsiHv.Core.Topology

/// What a node brings to the cluster: its join request, or the boot node's own membership entry. `Initiator`
/// names, for a memory-only node, the node whose CPUs are closest to its memory (the topology file's
/// `initiator`); the assembled topology's SRAT/HMAT use it.
type NodeInfo = { Id: NodeId; Cpus: int; MemoryMiB: int64; Address: string; Initiator: NodeId option }

/// Which node of the cluster a NodeInfo describes; what a node may contribute depends on it.
[<RequireQualifiedAccess>]
type NodeKind =
    /// Runs the membership and every vCPU of the VM.
    | Boot
    /// Joins the boot node and homes part of guest RAM; its CPUs would run nothing of the guest today, so a
    /// guest told about them (SRAT) would place vCPUs on a node they do not run on.
    | Memory

/// A broken rule of a node's contribution, with what was found.
type NodeInfoError =
    | NegativeId of found: int
    | NegativeCpus of found: int
    | TooManyCpus of found: int
    | CpusOnMemoryNode of found: int
    | NegativeMemory of found: int64
    | TooMuchMemory of found: int64
    | NoMemoryWithoutCpus
    | InvalidAddress of problem: string
    | InitiatorWithCpus of initiator: NodeId * cpus: int
    | NegativeInitiator of found: int
    | OwnInitiator of found: NodeId

module NodeInfoError =
    /// The field as the join request (and NodeInfo) spells it; a node config file calls `address` `transport`.
    let field (error: NodeInfoError) =
        match error with
        | NegativeId _ -> "id"
        | NegativeCpus _ | TooManyCpus _ | CpusOnMemoryNode _ -> "cpus"
        | NegativeMemory _ | TooMuchMemory _ | NoMemoryWithoutCpus -> "memoryMiB"
        | InvalidAddress _ -> "address"
        | InitiatorWithCpus _ | NegativeInitiator _ | OwnInitiator _ -> "initiator"

    let rule (error: NodeInfoError) =
        match error with
        | NegativeId found -> "expected 0 or more, found " + string found
        | NegativeCpus found -> "expected 0 or more, found " + string found
        | TooManyCpus found -> "expected at most " + string Validation.maxCpus + ", the most a VM has, found " + string found
        | CpusOnMemoryNode found ->
            "only the boot node may contribute CPUs today; expected 0 on a memory node, found " + string found
        | NegativeMemory found -> "expected 0 or more, found " + string found
        | TooMuchMemory found -> "expected at most " + string Validation.maxTotalMemoryMiB + ", the most a VM has, found " + string found
        | NoMemoryWithoutCpus -> "expected more than 0: a node without cpus contributes memory, found 0"
        | InvalidAddress problem -> problem
        | InitiatorWithCpus(initiator, cpus) ->
            "only a memory-only node (cpus 0) names an initiator; expected none on this one with " + string cpus + " cpus, found " + string initiator.Value
        | NegativeInitiator found -> "expected a node id (0 or more), found " + string found
        | OwnInitiator found -> "expected the id of a node with CPUs, found this node's own id " + string found.Value

    let text (error: NodeInfoError) = field error + ": " + rule error

module NodeInfo =
    /// The one set of rules a node's contribution meets, whichever way it arrives: a node config file
    /// (NodeConfig.validate), a join over HTTP and the boot node's own entry (Membership.create and
    /// Membership.step's Join). Every broken rule is returned, in the fields' order; a valid node comes back
    /// with its address in the canonical IPv4:port form.
    let validate (kind: NodeKind) (info: NodeInfo) : Result<NodeInfo, NodeInfoError list> =
        let address = Endpoint.parse info.Address
        let errors =
            [ if info.Id.Value < 0 then NegativeId info.Id.Value
              if info.Cpus < 0 then NegativeCpus info.Cpus
              elif info.Cpus > 0 && kind = NodeKind.Memory then CpusOnMemoryNode info.Cpus
              elif info.Cpus > Validation.maxCpus then TooManyCpus info.Cpus
              if info.MemoryMiB < 0L then NegativeMemory info.MemoryMiB
              elif info.MemoryMiB > Validation.maxTotalMemoryMiB then TooMuchMemory info.MemoryMiB
              elif info.MemoryMiB = 0L && info.Cpus = 0 then NoMemoryWithoutCpus
              match address with
              | Error problem -> InvalidAddress problem
              | Ok _ -> ()
              match info.Initiator with
              | Some initiator when info.Cpus > 0 -> InitiatorWithCpus(initiator, info.Cpus)
              | Some initiator when initiator.Value < 0 -> NegativeInitiator initiator.Value
              | Some initiator when initiator = info.Id -> OwnInitiator initiator
              | _ -> () ]
        match errors, address with
        | [], Ok endpoint -> Ok { info with Address = string endpoint }
        | errors, _ -> Error errors
