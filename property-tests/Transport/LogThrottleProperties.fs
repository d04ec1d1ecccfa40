/// Model-based tests of the log throttle: generated runs of events of a few kinds, time passing and summary
/// checks, against a model that remembers, per kind, when its last line was written and every event since.
/// Checked: two lines of one kind are at least an interval apart; the first event of a kind, and the first
/// one an interval after its last line, is written; no event is lost: each is written, or counted in the next
/// line or summary of its kind, or still waiting at the end.
module SsiHv.PropertyTests.Transport.LogThrottleProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport

let private config = { FsCheckConfig.defaultConfig with maxTest = 300; endSize = 200 }

type Command =
    | Event of kind: int
    | Pass of ms: int
    | Summaries

let private command =
    Gen.frequency
        [ 6, Gen.choose (0, 2) |> Gen.map Event
          3, Gen.choose (0, 400) |> Gen.map Pass
          1, Gen.constant Summaries ]

type private KindModel = { LastLineMs: int64 option; Events: int64; Accounted: int64 }

let tests =
    testList "log throttle" [
        testPropertyWithConfig config "a kind writes at most one line per interval, the first at once, and every event is written or counted" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 1000)) (Gen.listOf command))) (fun (interval, commands) ->
                let interval = int64 interval
                let empty = { LastLineMs = None; Events = 0L; Accounted = 0L }
                let fold (throttle, nowMs, (models: Map<int, KindModel>), failures) command =
                    let modelOf kind = models.TryFind kind |> Option.defaultValue empty
                    match command with
                    | Pass ms -> throttle, nowMs + int64 ms, models, failures
                    | Event kind ->
                        let model = modelOf kind
                        let throttle, verdict = LogThrottle.record nowMs kind throttle
                        let due = model.LastLineMs |> Option.forall (fun last -> nowMs - last >= interval)
                        let model = { model with Events = model.Events + 1L }
                        match verdict with
                        | WriteLine suppressed when due ->
                            throttle, nowMs, models.Add(kind, { model with LastLineMs = Some nowMs; Accounted = model.Accounted + 1L + suppressed }), failures
                        | Suppress when not due -> throttle, nowMs, models.Add(kind, model), failures
                        | verdict -> throttle, nowMs, models.Add(kind, model), sprintf "at %d ms kind %d: %A, expected a line: %b" nowMs kind verdict due :: failures
                    | Summaries ->
                        let throttle, summaries = LogThrottle.due nowMs throttle
                        let models, failures =
                            summaries
                            |> List.fold (fun (models: Map<int, KindModel>, failures) (kind, count) ->
                                let model = modelOf kind
                                let early = model.LastLineMs |> Option.exists (fun last -> nowMs - last < interval)
                                models.Add(kind, { model with LastLineMs = Some nowMs; Accounted = model.Accounted + count }),
                                (if early || count <= 0L then sprintf "at %d ms a summary of kind %d came early or empty" nowMs kind :: failures else failures))
                                (models, failures)
                        throttle, nowMs, models, failures
                let throttle, _, models, failures = commands |> List.fold fold (LogThrottle.create interval, 0L, Map.empty, [])
                let waiting kind = throttle.Kinds.TryFind kind |> Option.map (fun k -> k.Suppressed) |> Option.defaultValue 0L
                let lost =
                    models
                    |> Map.toList
                    |> List.filter (fun (kind, m) -> m.Accounted + waiting kind <> m.Events)
                    |> List.map (fun (kind, m) -> sprintf "kind %d: %d events, %d accounted, %d waiting" kind m.Events m.Accounted (waiting kind))
                let all = List.rev failures @ lost
                all.IsEmpty |> Prop.label (String.concat "\n" all))

        test "a flood of one kind within an interval is one line, and the next line counts the rest" {
            let throttle, first = LogThrottle.record 0L "refused" (LogThrottle.create 10_000L)
            let verdicts, throttle = List.mapFold (fun throttle ms -> let t, v = LogThrottle.record ms "refused" throttle in v, t) throttle [ 1L .. 999L ]
            let throttle, next = LogThrottle.record 10_000L "refused" throttle
            Expect.equal first (WriteLine 0L) "the first is written"
            Expect.isTrue (verdicts |> List.forall ((=) Suppress)) "the rest of the interval is counted only"
            Expect.equal next (WriteLine 999L) "the next line says how many went unlogged"
            Expect.equal (snd (LogThrottle.due 20_000L throttle)) [] "nothing left to summarise"
        }
    ]
