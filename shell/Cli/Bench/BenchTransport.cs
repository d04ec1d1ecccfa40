using SsiHv.Shell.Bench;
using static SsiHv.Shell.Cli.Bench.BenchArguments;

namespace SsiHv.Shell.Cli.Bench;

/// <summary>
/// <c>ssihv bench transport</c>: node-to-node page requests over loopback through our TCP transport against a
/// minimal C TCP client/server (TransportBenchmark).
/// </summary>
static class BenchTransport
{
    /// Requests per run with one outstanding, then with Depth in flight.
    const int Sequential = 20_000, Pipelined = 100_000, Depth = 64;

    public static readonly string Help =
        "bench transport: two of our TCP transports in this process on 127.0.0.1 exchange FetchPage -> PageData (a 4 KiB\n"
        + $"page), {Sequential} times with 1 request outstanding and {Pipelined} times with {Depth} in flight on one connection;\n"
        + "alternating, a minimal C client/server (bench/reference/tcp_reference.c, built with ssihv) does the same with\n"
        + "16 B requests and 4096 B replies. Prints round-trip median and p99, requests/s, and the ratios ours/C.\n";

    public static int Run(ParsedArguments arguments, TextWriter output)
    {
        RejectOptions(arguments, "transport", [.. BootOnly, .. StartupOnly, Budget, TopologyOption, Pin, Toucher]);
        var runs = RunsOf(arguments, "transport");
        output.WriteLine(FormattableString.Invariant(
            $"ssihv bench transport: runs per side: {runs}, {Sequential} requests with 1 outstanding, {Pipelined} with {Depth} in flight"));
        AgainstReference("transport", TransportReference.Prepare, reference =>
        {
            var results = TransportBenchmark.Run(reference, Sequential, Pipelined, Depth, runs, output.WriteLine);
            foreach (var line in TransportReport.Lines(results))
                output.WriteLine(line);
        });
        return ExitCodes.Success;
    }
}
