using System.Text;

namespace SsiHv.Shell.Pager;

/// <summary>
/// What the pager did, for the rest of the shell (run summary, later Prometheus): faults by kind, the actions
/// performed, resident pages, and fault-to-wake latency in power-of-two microsecond buckets. Updated by the
/// pager's threads with interlocked operations, read by anyone.
/// </summary>
public sealed class PagerMetrics
{
    public const int LatencyBuckets = 24; // 1 µs .. 8 s

    long readFaults, writeFaults, writeProtectFaults, zeroFills, fetches, installs, writeBacks, drops, wakes, residentPages, errors;
    long pagesMoved, completionsInline, completionsPosted;
    readonly long[] latency = new long[LatencyBuckets];

    public long ReadFaults => Interlocked.Read(ref readFaults);
    public long WriteFaults => Interlocked.Read(ref writeFaults);
    public long WriteProtectFaults => Interlocked.Read(ref writeProtectFaults);
    public long ZeroFills => Interlocked.Read(ref zeroFills);
    public long Fetches => Interlocked.Read(ref fetches);
    public long Installs => Interlocked.Read(ref installs);
    public long WriteBacks => Interlocked.Read(ref writeBacks);
    /// Pages dropped from guest memory (MADV_DONTNEED), i.e. evictions that completed.
    public long Evictions => Interlocked.Read(ref drops);
    public long Wakes => Interlocked.Read(ref wakes);
    public long ResidentPages => Interlocked.Read(ref residentPages);
    public long Errors => Interlocked.Read(ref errors);
    /// Pages moved store to store from a leaving home (MoveHome).
    public long PagesMoved => Interlocked.Read(ref pagesMoved);
    /// Transfers that completed later (a remote home) and were stepped by the thread that completed them.
    public long CompletionsInline => Interlocked.Read(ref completionsInline);
    /// Transfers that completed later while another step ran, so went through the pager's channel.
    public long CompletionsPosted => Interlocked.Read(ref completionsPosted);

    internal void CountFault(bool write, bool writeProtect) =>
        Interlocked.Increment(ref writeProtect ? ref writeProtectFaults : ref write ? ref writeFaults : ref readFaults);
    internal void CountZeroFill() { Interlocked.Increment(ref zeroFills); Interlocked.Increment(ref residentPages); }
    internal void CountFetch() => Interlocked.Increment(ref fetches);
    internal void CountInstall() { Interlocked.Increment(ref installs); Interlocked.Increment(ref residentPages); }
    internal void CountWriteBack() => Interlocked.Increment(ref writeBacks);
    internal void CountDrop() { Interlocked.Increment(ref drops); Interlocked.Decrement(ref residentPages); }
    internal void CountMove() => Interlocked.Increment(ref pagesMoved);
    internal void CountError() => Interlocked.Increment(ref errors);
    internal void CountCompletion(bool inline) => Interlocked.Increment(ref inline ? ref completionsInline : ref completionsPosted);

    internal void CountWake(long microseconds)
    {
        Interlocked.Increment(ref wakes);
        var bucket = microseconds <= 1 ? 0 : Math.Min(LatencyBuckets - 1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)microseconds - 1));
        Interlocked.Increment(ref latency[bucket]);
    }

    /// The upper bound (µs) of the bucket holding the given quantile of fault-to-wake latencies.
    public long LatencyQuantileMicroseconds(double quantile)
    {
        var counts = latency.Select(c => Interlocked.Read(ref c)).ToArray();
        var total = counts.Sum();
        if (total == 0)
            return 0;
        var target = (long)Math.Ceiling(quantile * total);
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
            if ((seen += counts[i]) >= target)
                return 1L << i;
        return 1L << (LatencyBuckets - 1);
    }

    public string Summary() => new StringBuilder()
        .Append($"faults: {ReadFaults} read, {WriteFaults} write, {WriteProtectFaults} write-protect; ")
        .Append($"zero-fills {ZeroFills}, fetches {Fetches}, installs {Installs}, write-backs {WriteBacks}, evictions {Evictions}; ")
        .Append($"resident {ResidentPages} pages; fault-to-wake p50 <= {LatencyQuantileMicroseconds(0.5)} us, p99 <= {LatencyQuantileMicroseconds(0.99)} us; ")
        .Append($"later completions {CompletionsInline} inline, {CompletionsPosted} posted; errors {Errors}")
        .ToString();
}
