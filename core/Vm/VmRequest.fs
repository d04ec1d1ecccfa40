namespace SsiHv.Core.Vm

open System

/// What starting a VM asks for: the guest, and how long it may run before it is stopped as failed.
type VmRequest = { Guest: Guest; Timeout: TimeSpan }

type VmRequestError =
    | InvalidGuest of GuestError
    | TimeoutOutOfRange of foundSeconds: float

module VmRequest =
    let defaultTimeout = TimeSpan.FromSeconds 300.0

    /// A day: longer is more likely a unit mistake than a wish, and would hold the cluster's one VM for it.
    let maximumTimeout = TimeSpan.FromDays 1.0

    /// POST /v1/vm's fields: the guest as Guest.parse reads it (naming neither is an error), and the time limit
    /// in seconds, above 0 and at most `maximumTimeout`, `defaultTimeout` when absent.
    let parse (guest: GuestFields) (timeoutSeconds: float option) : Result<VmRequest, VmRequestError> =
        match Guest.parse UnnamedGuest.IsMissing guest, timeoutSeconds with
        | Error error, _ -> Error(InvalidGuest error)
        | Ok _, Some seconds when not (seconds > 0.0 && seconds <= maximumTimeout.TotalSeconds) -> Error(TimeoutOutOfRange seconds)
        | Ok guest, seconds ->
            Ok { Guest = guest; Timeout = seconds |> Option.map TimeSpan.FromSeconds |> Option.defaultValue defaultTimeout }

module VmRequestError =
    /// As POST /v1/vm's body spells the fields.
    let text (error: VmRequestError) =
        match error with
        | InvalidGuest error -> GuestError.text GuestInput.HttpBody error
        | TimeoutOutOfRange found ->
            "timeoutSeconds: expected a number of seconds above 0 and at most " + string VmRequest.maximumTimeout.TotalSeconds + ", found " + string found
