using System.Globalization;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The C side of <c>ssihv bench transport</c> (<c>bench/reference/tcp_reference.c</c>): built with gcc into a
/// temporary directory for this invocation and run as a child process per run.
/// </summary>
public sealed class TransportReference(string directory, string executable)
{
    // A hang guard, not a speed goal: gcc -O2 in a lab machine (TCG, docs/lab.md) takes minutes.
    static readonly TimeSpan BuildTimeout = TimeSpan.FromSeconds(600);
    /// The reference gives up by itself after 120 s (alarm); this is the backstop that kills it.
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(150);

    public string Directory { get; } = directory;

    public static TransportReference Build(string sourceDirectory)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("ssihv-bench-transport-").FullName;
        var executable = Path.Combine(directory, "tcp_reference");
        var command = new BootCommand("gcc", ["-O2", "-Wall", "-o", executable, Path.Combine(sourceDirectory, "tcp_reference.c"), "-lpthread"],
            new Dictionary<string, string>());
        var result = BootObservation.RunAsync(command, BuildTimeout).GetAwaiter().GetResult();
        if (result.ExitCode != 0)
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw new BenchRunException($"building the C reference: '{command.Display}' exited with {result.ExitCode}", result.Tail());
        }
        return new TransportReference(directory, executable);
    }

    public TransportRun Run(int sequential, int pipelined, int depth)
    {
        var latencies = Path.Combine(Directory, "latencies.bin");
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
