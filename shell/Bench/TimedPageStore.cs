using System.Diagnostics;
using SsiHv.Shell.Pager;

namespace SsiHv.Shell.Bench;

/// <summary>
/// A page store that times every read (fetch) and write (write-back) of the store it wraps, exactly, from the
/// call to completion, into arrays sized up front (no allocation per sample): the transport's share of a remote
/// fault in <c>ssihv bench remote-fault</c>. Costs one async state machine per transfer that does not complete
/// at once (well under a microsecond against tens for a round trip). Records until <see cref="StopRecording"/>.
/// </summary>
public sealed class TimedPageStore(IPageStore inner, int capacity) : IPageStore
{
    readonly double[] reads = new double[capacity];
    readonly double[] writes = new double[capacity];
    int readCount, writeCount;
    volatile bool recording = true;

    public void StopRecording() => recording = false;

    public ArraySegment<double> ReadMicroseconds => new(reads, 0, Math.Min(Volatile.Read(ref readCount), capacity));
    public ArraySegment<double> WriteMicroseconds => new(writes, 0, Math.Min(Volatile.Read(ref writeCount), capacity));

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        var started = Stopwatch.GetTimestamp();
        return Timed(inner.ReadAsync(home, page, destination), started, isRead: true);
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source)
    {
        var started = Stopwatch.GetTimestamp();
        return Timed(inner.WriteAsync(home, page, source), started, isRead: false);
    }

    ValueTask Timed(ValueTask transfer, long started, bool isRead)
    {
        if (!transfer.IsCompletedSuccessfully)
            return Completion(transfer, started, isRead);
        Record(started, isRead);
        return transfer;
    }

    async ValueTask Completion(ValueTask transfer, long started, bool isRead)
    {
        await transfer.ConfigureAwait(false);
        Record(started, isRead);
    }

    void Record(long started, bool isRead)
    {
        if (!recording)
            return;
        var samples = isRead ? reads : writes;
        var index = Interlocked.Increment(ref isRead ? ref readCount : ref writeCount) - 1;
        if (index < samples.Length)
            samples[index] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
    }
}
