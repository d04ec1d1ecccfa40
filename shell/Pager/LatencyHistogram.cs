namespace SsiHv.Shell.Pager;

/// <summary>
/// Latencies in power-of-two microsecond buckets (1 µs .. 8 s): recorded by hot-path threads with one
/// interlocked increment and no allocation, read by anyone (summaries, /v1/pages, Prometheus).
/// </summary>
public sealed class LatencyHistogram
{
    public const int Buckets = 24;
    readonly long[] counts = new long[Buckets];

    public void Record(long microseconds)
    {
        var bucket = microseconds <= 1 ? 0 : Math.Min(Buckets - 1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)microseconds - 1));
        Interlocked.Increment(ref counts[bucket]);
    }

    public long Count => Snapshot().Sum();

    /// Bucket i counts latencies in (2^(i-1), 2^i] µs (bucket 0: up to 1 µs).
    public long[] Snapshot()
    {
        var snapshot = new long[Buckets];
        for (var i = 0; i < Buckets; i++)
            snapshot[i] = Interlocked.Read(ref counts[i]);
        return snapshot;
    }

    /// The upper bound (µs) of the bucket holding the given quantile; 0 when nothing was recorded.
    public long QuantileMicroseconds(double quantile) => QuantileBucket(Snapshot(), quantile) is var i and >= 0 ? 1L << i : 0;

    /// The index of the bucket holding the given quantile of these counts (nearest rank); -1 when all are 0.
    public static int QuantileBucket(IReadOnlyList<long> counts, double quantile)
    {
        var total = counts.Sum();
        if (total == 0)
            return -1;
        var target = (long)Math.Ceiling(quantile * total);
        long seen = 0;
        for (var i = 0; i < counts.Count; i++)
            if ((seen += counts[i]) >= target)
                return i;
        return counts.Count - 1;
    }
}
