using System.Collections.Concurrent;
using System.Diagnostics;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Transport;

namespace SsiHv.Tests.Pager;

/// <summary>
/// A page store that answers like a home on another machine: every read and write completes later, on a
/// thread-pool thread, after a short random busy delay (so completions arrive out of order and never on the
/// pager thread). The bytes live in <paramref name="inner"/>.
/// </summary>
public sealed class AsynchronousPageStore(IPageStore inner) : IPageStore
{
    long asynchronousCompletions;

    public long AsynchronousCompletions => Interlocked.Read(ref asynchronousCompletions);

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination) =>
        new(Later(() => inner.ReadAsync(home, page, destination)));

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source) =>
        new(Later(() => inner.WriteAsync(home, page, source)));

    Task Later(Func<ValueTask> transfer) => Task.Run(async () =>
    {
        Thread.SpinWait(Random.Shared.Next(0, 2000));
        await transfer();
        Interlocked.Increment(ref asynchronousCompletions);
    });
}

/// <summary>
/// Serves reads asynchronously from <paramref name="inner"/> until the <paramref name="failAtRead"/>th, which
/// (and every later transfer) fails as a lost peer does: a task faulted with PeerUnavailableException.
/// Records every failed transfer, and when the first failed: the pager may see a later write-back's failure
/// before the read's, since the two complete on different threads.
/// </summary>
public sealed class FailingPageStore(IPageStore inner, int failAtRead) : IPageStore
{
    int reads;
    volatile bool failed;
    readonly ConcurrentQueue<string> failures = new();

    public long FailedAt { get; private set; }
    public bool Failed => failed;
    public const string Complaint = "no reply within the request timeout (test store)";

    /// <summary>Each failed transfer as the pager names it: "home node N failed to read|write page 0xP".</summary>
    public IReadOnlyCollection<string> Failures => failures;

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        if (Interlocked.Increment(ref reads) == failAtRead)
        {
            FailedAt = Stopwatch.GetTimestamp();
            failed = true;
        }
        return failed ? Failure(home, page, "read") : new ValueTask(Task.Run(async () => await inner.ReadAsync(home, page, destination)));
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source) =>
        failed ? Failure(home, page, "write") : new ValueTask(Task.Run(async () => await inner.WriteAsync(home, page, source)));

    ValueTask Failure(int home, ulong page, string what)
    {
        failures.Enqueue($"home node {home} failed to {what} page 0x{page:X}");
        return new(Task.Run(() => throw new PeerUnavailableException(home, $"node {home} at 127.0.0.1:9 did not answer: {Complaint}")));
    }
}

/// <summary>
/// Passes transfers to <paramref name="inner"/> and counts them per home. Once a home is <see cref="Close"/>d, any
/// further read or write of it is recorded as a violation (the transfer still proceeds, so the run goes on and
/// the test reports every one).
/// </summary>
public sealed class WatchedPageStore(IPageStore inner) : IPageStore
{
    readonly ConcurrentDictionary<int, long> reads = new(), writes = new();
    readonly ConcurrentQueue<string> violations = new();
    volatile int closedHome = -1;

    public long ReadsOf(int home) => reads.GetValueOrDefault(home);
    public long WritesOf(int home) => writes.GetValueOrDefault(home);
    public IReadOnlyCollection<string> Violations => violations;

    public void Close(int home) => closedHome = home;

    public ValueTask ReadAsync(int home, ulong page, Memory<byte> destination)
    {
        Watch(home, page, "read", reads);
        return inner.ReadAsync(home, page, destination);
    }

    public ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source)
    {
        Watch(home, page, "write", writes);
        return inner.WriteAsync(home, page, source);
    }

    void Watch(int home, ulong page, string what, ConcurrentDictionary<int, long> counts)
    {
        counts.AddOrUpdate(home, 1, (_, n) => n + 1);
        if (home == closedHome && violations.Count < 10)
            violations.Enqueue($"{what} of page 0x{page:X} at home {home} after its HomeMoved");
    }
}
