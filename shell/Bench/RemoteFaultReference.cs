namespace SsiHv.Shell.Bench;

/// <summary>
/// The C side of <c>ssihv bench remote-fault</c> (<c>bench/reference/uffd_remote_reference.c</c>, built with ssihv):
/// uffd_reference.c with its page store in a forked page server over TCP loopback, run as a child process per run.
/// </summary>
public static class RemoteFaultReference
{
    public static (RemoteFaultRun Run, double TscPerMicrosecond) Run(string executable, FaultTools tools, int pages, int budgetPages, int passes,
        FaultThreadPlacement placement, FaultToucher toucher)
    {
        var (run, tscPerMicrosecond, values) = FaultReference.RunExecutable(executable, tools, pages, budgetPages, passes, placement, toucher);
        double Value(string key) => values.TryGetValue(key, out var value)
            ? value
            : throw new BenchRunException($"C reference: no '{key}=' in the output of {executable}");
        return (new RemoteFaultRun(run,
            Value("fetch_p50_us"), Value("fetch_p99_us"), Value("store_p50_us"), Value("store_p99_us"), Value("copy_p50_us"), Value("copy_p99_us")),
            tscPerMicrosecond);
    }
}
