/// SLIT distances: Linux's acceptance rules and the derivation from latencies (docs/design.md §4.2).
module SsiHv.Core.Numa.Distances

open SsiHv.Core.Topology

let localDistance = 10
let defaultRemoteDistance = 20
let minRemoteDistance = 11
let maxRemoteDistance = 254
let unreachableDistance = 255

/// The rule Linux's `slit_valid` and the ACPI spec impose on entry [from][to].
let isValidEntry (from: int) (to': int) (value: int64) =
    if from = to' then value = int64 localDistance
    else (value >= int64 minRemoteDistance && value <= int64 maxRemoteDistance) || value = int64 unreachableDistance

let private clampRemote (v: int64) =
    int (max (int64 minRemoteDistance) (min (int64 maxRemoteDistance) v))

/// round(10 * lat[i][j] / lat[i][i]) in integers, half away from zero, clamped to 11..254.
let private fromLatency (local: int64) (remote: int64) = clampRemote ((20L * remote + local) / (2L * local))

/// The SLIT derived from latencies. Rows of initiators (nodes with CPUs) come from their own latency rows.
/// A memory-only node has no latency row of its own, so its row mirrors the column the initiators see:
/// distance(m, j) = distance(j, m) for an initiator j, and distance(init(m), j) towards other memory-only
/// nodes (or 20 when m names no initiator).
let deriveFromLatency (nodes: Node list) (latencyNs: int64 list list) : int list list =
    let lat i j = latencyNs.[i].[j]
    let hasCpus i = nodes.[i].Cpus > 0
    let n = List.length nodes
    let initiatorRow i j = if i = j then localDistance else fromLatency (lat i i) (lat i j)
    [ for i in 0 .. n - 1 ->
        [ for j in 0 .. n - 1 ->
            if i = j then localDistance
            elif hasCpus i then initiatorRow i j
            elif hasCpus j then initiatorRow j i
            else
                match nodes.[i].Initiator with
                | Some k -> initiatorRow k.Value j
                | None -> defaultRemoteDistance ] ]

let defaultMatrix (n: int) =
    [ for i in 0 .. n - 1 -> [ for j in 0 .. n - 1 -> if i = j then localDistance else defaultRemoteDistance ] ]
