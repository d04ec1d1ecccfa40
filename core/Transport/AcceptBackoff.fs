/// What the accept loop does after accept() fails (docs/transport.md, "Admission"). Running out of
/// descriptors or buffers (EMFILE, ENFILE, ENOBUFS, ENOMEM) leaves the connection in the listen queue, so an
/// accept retried at once fails at once: the loop waits, 10 ms after the first failure in a row and twice as
/// long after each further one, up to 1 s, so that it neither spins nor gives up. A connection the client
/// aborted before it was accepted is gone and says nothing about the node: the next accept goes at once.
module SsiHv.Core.Transport.AcceptBackoff

type AcceptFailure =
    | ResourcesExhausted
    | ConnectionAborted
    | OtherFailure

let firstDelayMs = 10L
let longestDelayMs = 1000L

/// The wait before the next accept after the `failuresInARow`-th failure in a row (1 for the first).
let delayMs (failuresInARow: int) : int64 =
    let doublings = max 0 (failuresInARow - 1)
    // 10 ms doubled 7 times passes 1 s: stop doubling there rather than overflow.
    if doublings >= 7 then longestDelayMs else min longestDelayMs (firstDelayMs <<< doublings)

/// After a failure: the failures in a row it makes, and how long to wait before accepting again.
let after (failure: AcceptFailure) (failuresInARow: int) : int * int64 =
    match failure with
    | ConnectionAborted -> 0, 0L
    | ResourcesExhausted | OtherFailure ->
        let count = failuresInARow + 1
        count, delayMs count
