using System.Globalization;
using SsiHv.Shell.Assets;
using static SsiHv.Shell.Bench.FaultGuestLayout;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The fault guest and the C reference's executable, both shipped with ssihv (<see cref="ProductAssets"/>), the
/// guest's bytes, and a temporary directory for this invocation's results files, removed on disposal.
/// </summary>
public sealed record FaultTools(string ResultsDirectory, string GuestBinary, string Reference, byte[] GuestCode) : IDisposable
{
    public void Dispose() => Directory.Delete(ResultsDirectory, recursive: true);
}

/// <summary>
/// The C side of <c>ssihv bench fault</c> (<c>bench/reference/uffd_reference.c</c>, built with ssihv): run as a
/// child process per run, its output parsed into the same <see cref="FaultRun"/> as ours.
/// </summary>
public static class FaultReference
{
    /// The reference gives up by itself after 120 s (alarm); this is the backstop that kills it.
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(150);

    public static FaultTools Prepare()
    {
        var guestBinary = ProductAssets.FaultGuest;
        var reference = ProductAssets.FaultReference;
        var code = File.ReadAllBytes(guestBinary);
        if (code.Length == 0 || code.Length > (int)(ParametersAddress - LowBase))
            throw new BenchRunException($"{guestBinary}: {code.Length} bytes of guest code; expected 1 to {ParametersAddress - LowBase}");
        return new FaultTools(Directory.CreateTempSubdirectory("ssihv-bench-fault-").FullName, guestBinary, reference, code);
    }

    /// One run of the C reference; also returns the TSC rate it measured (ticks per µs against CLOCK_MONOTONIC).
    public static (FaultRun Run, double TscPerMicrosecond) Run(FaultTools tools, int pages, int budgetPages, int passes, FaultThreadPlacement placement,
        FaultToucher toucher)
    {
        var (run, tscPerMicrosecond, _) = RunExecutable(tools.Reference, tools, pages, budgetPages, passes, placement, toucher);
        return (run, tscPerMicrosecond);
    }

    /// One run of a C reference taking uffd_reference's arguments and printing (at least) its key=value lines;
    /// also returns every key=value it printed. `placement` pins its vCPU and handler threads (or not); the
    /// reference evicts ahead to our pager's free-frame target for this budget (BENCH_FREE_FRAMES), so both
    /// sides evict in the same order. With the thread toucher (BENCH_TOUCHER=thread) a host thread pinned where its
    /// vCPU would be touches the pages instead of the guest, as ours does.
    public static (FaultRun Run, double TscPerMicrosecond, IReadOnlyDictionary<string, double> Values) RunExecutable(
        string executable, FaultTools tools, int pages, int budgetPages, int passes, FaultThreadPlacement placement, FaultToucher toucher)
    {
        var resultsFile = Path.Combine(tools.ResultsDirectory, "results.bin");
        var environment = new Dictionary<string, string>(placement.ReferenceEnvironment)
        {
            ["BENCH_FREE_FRAMES"] = Invariant(FaultOurPager.FreeFramesFor(pages, budgetPages)),
            ["BENCH_TOUCHER"] = toucher == FaultToucher.Thread ? "thread" : "vcpu",
        };
        var command = new BootCommand(executable,
            [tools.GuestBinary, Invariant(pages), Invariant(budgetPages), Invariant(passes), resultsFile], environment);
        var observation = BootObservation.RunAsync(command, RunTimeout).GetAwaiter().GetResult();
        if (observation.ExitCode != 0)
            throw new BenchRunException($"C reference: '{command.Display}' exited with {observation.ExitCode}", observation.Tail());

        var values = observation.Stdout
            .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(word => word.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => double.Parse(pair[1], CultureInfo.InvariantCulture));
        double Value(string key) => values.TryGetValue(key, out var value)
            ? value
            : throw new BenchRunException($"C reference: no '{key}=' in its output", observation.Tail());

        var bytes = File.ReadAllBytes(resultsFile);
        if (bytes.Length != pages * passes * 4)
            throw new BenchRunException($"C reference: {resultsFile} has {bytes.Length} bytes, expected {pages * passes * 4}");
        var cycles = new uint[pages * passes];
        Buffer.BlockCopy(bytes, 0, cycles, 0, bytes.Length);
        var run = new FaultRun(cycles,
            [.. Enumerable.Range(0, passes).Select(pass => Value($"pass{pass}_us"))],
            (long)Value("faults"), (long)Value("zero_fills"), (long)Value("fetches"), (long)Value("evictions"), (long)Value("wrong_pages"),
            Value("handle_p50_us"), Value("handle_p99_us"));
        return (run, Value("tsc_per_us"), values);
    }

    static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
