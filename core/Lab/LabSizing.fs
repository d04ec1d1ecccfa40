/// How big a lab machine a node host gets under `ssihv up --lab` (docs/lab.md): the boot node runs the guest's
/// vCPUs as threads of its own and gets two CPUs; a memory node serves pages and gets one, so a two-node cluster
/// keeps both cores of a small host busy (TCG runs each machine on one host thread). Memory: the lab kernel,
/// its overlay and a .NET node host take about 1.5 GiB; on top, the node's own memory (the boot node's guest
/// RAM, a memory node's pages) and its page store, which may receive a drained node's pages.
module SsiHv.Core.Lab.LabSizing

type MachineSize = { Cpus: int; MemoryMiB: int }

let private baseMiB = 1536L
let private minimumMiB = 2048L

let forNode (boot: bool) (memoryMiB: int64) (storeMiB: int64) : MachineSize =
    { Cpus = if boot then 2 else 1
      MemoryMiB = int (baseMiB + memoryMiB + storeMiB |> max minimumMiB |> min (int64 LabMachine.maxMemoryMiB)) }
