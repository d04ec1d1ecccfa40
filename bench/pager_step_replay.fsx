// The cost of the pure core alone in `ssihv bench fault` (docs/performance.md, analysis): replays the bench's
// event sequence through Pager.step with no syscalls — PAGES write faults in order, PASSES times (default 2), budget BUDGET pages (default PAGES/4), feeding
// FetchDone / WriteBackDone exactly as the shell does — REPLAYS times (default 15) after a warm-up replay, and
// prints the fastest replay's µs per fault and per step, in CPU time of this process (on a busy host wall time
// mostly measures other processes) and in wall time.
// Usage (after `dotnet build core -c Release`):
//   DOTNET_TieredCompilation=0 dotnet fsi --optimize+ bench/pager_step_replay.fsx [PAGES] [PASSES] [BUDGET] [REPLAYS]
#r "../core/bin/Release/net10.0/SsiHv.Core.dll"
open SsiHv.Core.Topology
open SsiHv.Core.Paging
open SsiHv.Core.Paging.Pager

let args = fsi.CommandLineArgs
let pages = if args.Length > 1 then uint64 args.[1] else 8192UL
let passes = if args.Length > 2 then int args.[2] else 2
let budget = if args.Length > 3 then int args.[3] else max 1 (int pages / 4)
let replays = if args.Length > 4 then int args.[4] else 15
let firstPage = 256UL // guest-physical 1 MiB, as in fault_guest.S
let placement: Placement.Placement =
    { Policy = Placement.FirstTouch; Capacity = [ (NodeId 0, pages) ]; Ranges = [ { Node = NodeId 0; First = PageNumber firstPage; Count = pages } ] }
let config =
    match PagerConfig.create (NodeId 0) budget placement with
    | Ok c -> c
    | Error e -> failwithf "%A" e

let replay () =
    let mutable state = create config
    let mutable id = 0UL
    let mutable steps = 0
    let completions = System.Collections.Generic.Queue<PagerEvent>()
    for _ in 1..passes do
        for p in 0UL .. pages - 1UL do
            id <- id + 1UL
            completions.Enqueue(Fault(FaultId id, PageNumber(firstPage + p), Write))
            while completions.Count > 0 do
                let next, actions = step state (completions.Dequeue())
                steps <- steps + 1
                state <- next
                for action in actions do
                    match action with
                    | Fetch(page, _) -> completions.Enqueue(FetchDone page)
                    | CopyOut(page, _) -> completions.Enqueue(WriteBackDone page)
                    | _ -> ()
    steps

replay () |> ignore // JIT warm-up
let self = System.Diagnostics.Process.GetCurrentProcess()
let measure () =
    self.Refresh()
    let cpuBefore = self.TotalProcessorTime
    let watch = System.Diagnostics.Stopwatch.StartNew()
    let steps = replay ()
    let wall = watch.Elapsed.TotalMicroseconds
    self.Refresh()
    (self.TotalProcessorTime - cpuBefore).TotalMicroseconds, wall, steps
let results = List.init replays (fun _ -> measure ())
let cpu, _, steps = results |> List.minBy (fun (cpu, _, _) -> cpu)
let wall = results |> List.map (fun (_, wall, _) -> wall) |> List.min
let faults = float pages * float passes
printfn "%d faults, %d steps, fastest of %d replays: CPU %.2f µs per fault, %.2f µs per step; wall %.2f µs per fault, %.2f µs per step"
    (int faults) steps replays (cpu / faults) (cpu / float steps) (wall / faults) (wall / float steps)
