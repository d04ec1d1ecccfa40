/// At most one log line per kind of event per interval, with the number of events left unlogged since the
/// previous line (docs/transport.md, "Admission"): a flood of refused connections must not become a flood of
/// log lines, and must not vanish from the log either. The shell hands it its monotonic clock in milliseconds.
namespace SsiHv.Core.Transport

type ThrottledKind = { LastLineMs: int64; Suppressed: int64 }

type LogThrottle<'kind when 'kind: comparison> =
    { IntervalMs: int64
      Kinds: Map<'kind, ThrottledKind> }

type ThrottleVerdict =
    /// Write this event's line, saying that `suppressedBefore` events of its kind went unlogged since the last.
    | WriteLine of suppressedBefore: int64
    /// Count it only.
    | Suppress

module LogThrottle =
    let create (intervalMs: int64) : LogThrottle<'kind> = { IntervalMs = intervalMs; Kinds = Map.empty }

    /// One event of `kind` at `nowMs`: written when no line of its kind was written within the interval.
    let record (nowMs: int64) (kind: 'kind) (throttle: LogThrottle<'kind>) : LogThrottle<'kind> * ThrottleVerdict =
        match Map.tryFind kind throttle.Kinds with
        | Some last when nowMs - last.LastLineMs < throttle.IntervalMs ->
            { throttle with Kinds = throttle.Kinds.Add(kind, { last with Suppressed = last.Suppressed + 1L }) }, Suppress
        | last ->
            let suppressed = last |> Option.map (fun k -> k.Suppressed) |> Option.defaultValue 0L
            { throttle with Kinds = throttle.Kinds.Add(kind, { LastLineMs = nowMs; Suppressed = 0L }) }, WriteLine suppressed

    /// The kinds whose unlogged events are due a summary line at `nowMs` (an interval has passed since their
    /// last line), with their counts; a quiet log thus still tells how a flood ended.
    let due (nowMs: int64) (throttle: LogThrottle<'kind>) : LogThrottle<'kind> * ('kind * int64) list =
        let summaries =
            throttle.Kinds
            |> Map.toList
            |> List.filter (fun (_, k) -> k.Suppressed > 0L && nowMs - k.LastLineMs >= throttle.IntervalMs)
            |> List.map (fun (kind, k) -> kind, k.Suppressed)
        let kinds =
            summaries |> List.fold (fun (kinds: Map<_, _>) (kind, _) -> kinds.Add(kind, { LastLineMs = nowMs; Suppressed = 0L })) throttle.Kinds
        { throttle with Kinds = kinds }, summaries
