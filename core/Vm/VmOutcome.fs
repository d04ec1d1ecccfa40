namespace SsiHv.Core.Vm

open System

/// The exit code a VM's end reports: GET /v1/vm's `exitCode`, and so `ssihv up`'s exit status.
module ExitCode =
    /// The guest ended the run itself.
    [<Literal>]
    let Success = 0

    /// The guest failed or ran out of time, or something outside it ended the run: a stop, a lost node, a start
    /// or an end report that did not come.
    [<Literal>]
    let Failure = 1

/// How a VM's run ended, as the VMM reports it.
type VmOutcome =
    | PoweredOff
    /// The guest reset the machine (Linux's `reboot`). A cluster VM is not booted again, so its run is over.
    | Reset
    /// Still running at the request's time limit; each vCPU's registers when it was stopped.
    | TimedOut of limit: TimeSpan * vcpuStates: string
    /// The guest faulted in a way the VMM cannot go on from; the report names the vCPU and its state.
    | Crashed of report: string
    /// Stopped from outside the guest: the control plane, a lost node, a failed pager.
    | Stopped of reason: string

module VmOutcome =
    /// A reset ends the run as orderly as a power-off: it is what the guest asked for.
    let exitCode (outcome: VmOutcome) =
        match outcome with
        | PoweredOff | Reset -> ExitCode.Success
        | TimedOut _ | Crashed _ | Stopped _ -> ExitCode.Failure

    let reason (outcome: VmOutcome) =
        match outcome with
        | PoweredOff -> "the guest powered off"
        | Reset -> "the guest reset"
        | TimedOut(limit, vcpuStates) -> "the guest was still running after " + string limit.TotalSeconds + " s; stopped it\n" + vcpuStates
        | Crashed report -> "the guest failed: " + report
        | Stopped reason -> reason
