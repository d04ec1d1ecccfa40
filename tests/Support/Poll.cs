using System.Diagnostics;
using Xunit;

namespace SsiHv.Tests.Support;

/// <summary>
/// Waits for what another thread or process does and cannot signal to the test (a node's state, a log line):
/// the condition is polled until it holds, always within a time limit. When the limit passes first the test fails
/// saying what was awaited and, where the caller can tell, what was seen instead.
/// </summary>
public static class Poll
{
    static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static void Until(string awaited, TimeSpan limit, Func<bool> condition, Func<string>? seen = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
                Fail(awaited, limit, seen);
            Thread.Sleep(Interval);
        }
    }

    public static async Task UntilAsync(string awaited, TimeSpan limit, Func<Task<bool>> condition, Func<string>? seen = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
                Fail(awaited, limit, seen);
            await Task.Delay(Interval);
        }
    }

    static void Fail(string awaited, TimeSpan limit, Func<string>? seen) =>
        Assert.Fail($"{awaited} did not happen within {limit.TotalSeconds:0.###} s{(seen is null ? "" : $"; seen instead: {seen()}")}");
}
