using Microsoft.FSharp.Collections;
using SsiHv.Core.Cluster;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// The TCP transport's side of core Admission, LogThrottle and the refusal counts (docs/transport.md,
/// "Admission"): steps the admission under a lock for the accept thread and the connection threads, counts every
/// refusal by kind, and writes each kind's log line at most once per interval with the number left unlogged.
/// </summary>
public sealed class IncomingAdmission(int self, TimeSpan logInterval, Action<string> log)
{
    public static readonly AdmissionLimits Limits = new(
        NodeLimits.TransportConnections, NodeLimits.UnauthenticatedTransportConnections,
        NodeLimits.UnauthenticatedTransportConnectionsPerSource);

    readonly Lock gate = new();
    Admission admission = AdmissionModule.create(Limits).ResultValue;
    LogThrottle<IncomingRefusal> throttle = LogThrottle.create<IncomingRefusal>((long)logInterval.TotalMilliseconds);
    readonly long[] refusals = new long[IncomingRefusalModule.all.Length];

    public FSharpList<AdmissionAction> Arrive(long connection, string source)
    {
        lock (gate)
        {
            (admission, var actions) = AdmissionModule.step(admission, AdmissionEvent.NewArrived(connection, source));
            return actions;
        }
    }

    /// The hello of `connection` accepted its peer: true when it may serve, false when it was evicted meanwhile.
    public bool HelloAccepted(long connection)
    {
        lock (gate)
        {
            (admission, var actions) = AdmissionModule.step(admission, AdmissionEvent.NewHelloAccepted(connection));
            return !actions.IsEmpty;
        }
    }

    public void Ended(long connection)
    {
        lock (gate)
            (admission, _) = AdmissionModule.step(admission, AdmissionEvent.NewEnded(connection));
    }

    /// Counts a refusal of `kind` and logs `line` (prefixed with the node), unless a line of its kind was
    /// written within the interval.
    public void Refused(IncomingRefusal kind, string line)
    {
        Interlocked.Increment(ref refusals[kind.Tag]);
        ThrottleVerdict verdict;
        lock (gate)
            (throttle, verdict) = LogThrottle.record(Environment.TickCount64, kind, throttle);
        if (verdict is ThrottleVerdict.WriteLine { suppressedBefore: var suppressed })
            log($"transport: node {self}: {line}{(suppressed > 0 ? $" ({suppressed} more of these since the last such line)" : "")}");
    }

    /// Summary lines for kinds whose unlogged refusals are an interval old: the sweep timer calls it.
    public void LogSummaries()
    {
        FSharpList<Tuple<IncomingRefusal, long>> due;
        lock (gate)
            (throttle, due) = LogThrottle.due(Environment.TickCount64, throttle);
        foreach (var (kind, count) in due)
            log($"transport: node {self}: {IncomingRefusalModule.describe(Limits, kind)}: {count} more times since the last such line");
    }

    public IncomingStats Snapshot()
    {
        int pending, authenticated;
        lock (gate)
        {
            pending = admission.Pending.Length;
            authenticated = admission.Authenticated.Count;
        }
        var counts = IncomingRefusalModule.all.ToDictionary(IncomingRefusalModule.label, kind => Interlocked.Read(ref refusals[kind.Tag]));
        return new IncomingStats(authenticated, pending, counts);
    }
}
