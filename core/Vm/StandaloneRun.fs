/// What `ssihv run` (one VM on this host, no cluster) does when its VM ends: boot it again, or exit with a code
/// and the lines that tell why. Unlike a cluster VM, a reset may boot the guest again: the user asks for it
/// with --reboot.
module SsiHv.Core.Vm.StandaloneRun

type RunEnd =
    /// Boot the guest again; the line says why.
    | BootAgain of notice: string
    /// Exit with this code. A success's lines go to standard output, a failure's to standard error.
    | Exit of exitCode: int * lines: string list

let decide (rebootOnReset: bool) (outcome: VmOutcome) : RunEnd =
    match outcome with
    | PoweredOff -> Exit(ExitCode.Success, [ "the guest powered off" ])
    | Reset when rebootOnReset -> BootAgain "the guest reset; booting it again (--reboot)"
    | Reset -> Exit(ExitCode.Success, [ "the guest reset (give --reboot to boot it again)" ])
    | TimedOut(limit, vcpuStates) ->
        Exit(
            ExitCode.Failure,
            "the guest was still running after " + string limit.TotalSeconds + " s (--timeout); stopped it"
            :: List.ofArray (vcpuStates.Split '\n')
        )
    | Stopped reason -> Exit(ExitCode.Failure, [ "the VM was stopped: " + reason ])
    | Crashed report -> Exit(ExitCode.Failure, "the guest failed:" :: List.ofArray (report.Split '\n'))
