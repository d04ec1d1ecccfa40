using System.Globalization;
using SsiHv.Shell.Assets;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The C side of <c>ssihv bench transport</c> (<c>bench/reference/tcp_reference.c</c>, built with ssihv): run as a
/// child process per run, writing its latencies into a temporary directory of this invocation, removed on disposal.
/// </summary>
public sealed class TransportReference(string resultsDirectory, string executable) : IDisposable
{
    /// The reference gives up by itself after 120 s (alarm); this is the backstop that kills it.
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(150);

    public static TransportReference Prepare()
    {
        var executable = ProductAssets.TransportReference;
        return new(Directory.CreateTempSubdirectory("ssihv-bench-transport-").FullName, executable);
    }

    public void Dispose() => Directory.Delete(resultsDirectory, recursive: true);

    public TransportRun Run(int sequential, int pipelined, int depth)
    {
        var latencies = Path.Combine(resultsDirectory, "latencies.bin");
        var command = new BootCommand(executable, [Invariant(sequential), Invariant(pipelined), Invariant(depth), latencies],
            new Dictionary<string, string>());
        var observation = BootObservation.RunAsync(command, RunTimeout).GetAwaiter().GetResult();
        if (observation.ExitCode != 0)
            throw new BenchRunException($"C reference: '{command.Display}' exited with {observation.ExitCode}", observation.Tail());
        const string key = "pipelined_rps=";
        var word = observation.Stdout.SelectMany(line => line.Split(' ')).FirstOrDefault(w => w.StartsWith(key, StringComparison.Ordinal))
            ?? throw new BenchRunException($"C reference: no '{key}' in its output", observation.Tail());
        var bytes = File.ReadAllBytes(latencies);
        if (bytes.Length != sequential * sizeof(double))
            throw new BenchRunException($"C reference: {latencies} has {bytes.Length} bytes, expected {sequential * sizeof(double)}");
        var values = new double[sequential];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return new TransportRun(values, double.Parse(word[key.Length..], CultureInfo.InvariantCulture));
    }

    static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
