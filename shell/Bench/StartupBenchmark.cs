using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Processes;

namespace SsiHv.Shell.Bench;

/// <summary>
/// <c>ssihv bench startup</c>: new processes of the native and the JIT build, alternating (which goes first swaps
/// every run, so neither always finds the caches the other warmed): <c>ssihv --version</c> and
/// <c>ssihv acpi show</c> from start to exit, with the latter's peak RSS, both through child_rusage
/// (bench/reference/child_rusage.c: the exact peak of the command itself, which wait4 in this process cannot
/// give); a boot node's host (MeasuredChild) from spawn to its first <c>GET /v1/health</c> 200, its VmRSS then,
/// and SIGTERM to exit. A build whose run fails is not run again for that measurement; the failure is reported
/// instead.
/// </summary>
public sealed class StartupBenchmark : IDisposable
{
    static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60), ReadyTimeout = TimeSpan.FromSeconds(60),
        StopTimeout = TimeSpan.FromSeconds(15), HealthRequestTimeout = TimeSpan.FromSeconds(1);
    /// Between health polls: short against the goal of 150 ms, long enough to leave the CPU to the node host.
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);
    const int SigTerm = 15;

    readonly string childRusage = ProductAssets.ChildRusage;
    readonly DirectoryInfo work = Directory.CreateTempSubdirectory("ssihv-bench-startup-");
    readonly HttpClient http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = HealthRequestTimeout };

    string Output => Path.Combine(work.FullName, "output.txt");

    public void Dispose()
    {
        http.Dispose();
        work.Delete(recursive: true);
    }

    public StartupResults Run(StartupLauncher native, StartupLauncher jit, string topology, int runs)
    {
        var (version, acpiShow, acpiShowRss, nodeReady, nodeRss, nodeStop) =
            (StartupPair.Empty, StartupPair.Empty, StartupPair.Empty, StartupPair.Empty, StartupPair.Empty, StartupPair.Empty);
        for (var run = -1; run < runs; run++)
        {
            var warmUp = run < 0;
            var nativeFirst = run % 2 != 0;
            foreach (var isNative in new[] { nativeFirst, !nativeFirst })
            {
                var launcher = isNative ? native : jit;
                BuildRuns Of(StartupPair pair) => isNative ? pair.Native : pair.Jit;
                StartupPair Set(StartupPair pair, BuildRuns updated) => isNative ? pair with { Native = updated } : pair with { Jit = updated };

                if (Of(version).Failure is null)
                    version = Set(version, Record(Of(version), warmUp, TimedCommand(launcher, ["--version"]), result => result.Milliseconds));
                if (Of(acpiShow).Failure is null)
                {
                    var result = TimedCommand(launcher, ["acpi", "show", "--topology", topology]);
                    acpiShow = Set(acpiShow, Record(Of(acpiShow), warmUp, result, measured => measured.Milliseconds));
                    acpiShowRss = Set(acpiShowRss, Record(Of(acpiShowRss), warmUp, SameRun(result), measured => measured.PeakRssKiB / 1024.0));
                }
                if (Of(nodeReady).Failure is null)
                {
                    var result = NodeHost(launcher);
                    nodeReady = Set(nodeReady, Record(Of(nodeReady), warmUp, result, measured => measured.ReadyMilliseconds));
                    nodeRss = Set(nodeRss, Record(Of(nodeRss), warmUp, SameRun(result), measured => measured.RssKiB / 1024.0));
                    nodeStop = Set(nodeStop, Record(Of(nodeStop), warmUp, SameRun(result), measured => measured.StopMilliseconds));
                }
            }
        }
        return new StartupResults(native, jit, topology, runs, version, acpiShow, acpiShowRss, nodeReady, nodeRss, nodeStop);
    }

    static BuildRuns Record<T>(BuildRuns earlier, bool warmUp, Measured<T> result, Func<T, double> value) =>
        result.Failure is { } failure ? earlier.Failed(failure)
        : warmUp ? earlier
        : earlier.With(value(result.Value!));

    /// A second figure of one run: its failure is told once, on the run's first line.
    static Measured<T> SameRun<T>(Measured<T> result) => result.Failure is null ? result : Failed<T>("the run failed (above)");

    sealed record Measured<T>(T? Value, string? Failure);
    sealed record CommandRun(double Milliseconds, long PeakRssKiB);
    sealed record NodeHostRun(double ReadyMilliseconds, long RssKiB, double StopMilliseconds);

    static Measured<T> Failed<T>(string failure) => new(default, failure);

    /// Runs the command through child_rusage, which times it from its fork to its reap and reads its own peak RSS.
    Measured<CommandRun> TimedCommand(StartupLauncher launcher, IReadOnlyList<string> arguments)
    {
        var result = Path.Combine(work.FullName, "rusage.txt");
        File.Delete(result);
        using var runner = MeasuredChild.Start(childRusage, [result, launcher.Executable, .. launcher.Arguments(arguments)], Output);
        var runnerExit = runner.WaitForExit(CommandTimeout);
        if (runnerExit is null)
            return Failed<CommandRun>($"no exit within {CommandTimeout.TotalSeconds:F0} s");
        if (!runnerExit.Succeeded)
            return Failed<CommandRun>($"child_rusage: {runnerExit.Describe()}: {LastOutputLine()}");
        var fields = File.ReadAllText(result).Split(' ', StringSplitOptions.TrimEntries)
            .Select(field => field.Split('='))
            .ToDictionary(pair => pair[0], pair => long.Parse(pair[1], CultureInfo.InvariantCulture));
        var exit = ChildExit.FromWaitStatus((int)fields["status"]);
        return exit.Succeeded
            ? new(new CommandRun(fields["elapsed_ns"] / 1e6, fields["maxrss_kib"]), null)
            : Failed<CommandRun>($"{exit.Describe()}: {LastOutputLine()}");
    }

    Measured<NodeHostRun> NodeHost(StartupLauncher launcher)
    {
        var httpPort = FreeLoopbackPort();
        var config = Path.Combine(work.FullName, "node.json");
        // Transport port 0: a lone boot node has no peer to tell its address, so the kernel may choose it.
        File.WriteAllText(config, $$"""
            { "id": 0, "transport": "127.0.0.1:0", "http": "127.0.0.1:{{httpPort}}", "secret": "00112233445566778899aabbccddeeff",
              "apiToken": "bench-startup-api-token", "cpus": 2, "memoryMiB": 1024, "boot": true }
            """);
        var health = new Uri($"http://127.0.0.1:{httpPort}/v1/health");
        var start = Stopwatch.GetTimestamp();
        using var child = MeasuredChild.Start(launcher.Executable, launcher.Arguments("node", "--config", config), Output);
        while (!Healthy(health))
        {
            if (child.WaitForExit(PollInterval) is { } early)
                return Failed<NodeHostRun>($"ended before answering GET /v1/health: {early.Describe()}: {LastOutputLine()}");
            if (Stopwatch.GetElapsedTime(start) > ReadyTimeout)
                return Failed<NodeHostRun>($"no GET /v1/health 200 within {ReadyTimeout.TotalSeconds:F0} s: {LastOutputLine()}");
        }
        var ready = Stopwatch.GetElapsedTime(start);
        var rssKiB = ProcessStatus.KiB(child.Pid.ToString(CultureInfo.InvariantCulture), "VmRSS")["VmRSS"];

        var stopStart = Stopwatch.GetTimestamp();
        child.Signal(SigTerm);
        var exit = child.WaitForExit(StopTimeout);
        var stop = Stopwatch.GetElapsedTime(stopStart);
        if (exit is null)
            return Failed<NodeHostRun>($"still running {StopTimeout.TotalSeconds:F0} s after SIGTERM");
        return exit.Succeeded
            ? new(new NodeHostRun(ready.TotalMilliseconds, rssKiB, stop.TotalMilliseconds), null)
            : Failed<NodeHostRun>($"after SIGTERM: {exit.Describe()}: {LastOutputLine()}");
    }

    bool Healthy(Uri health)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, health);
            // No connection kept open to the node host, so that nothing of this client delays its stop.
            request.Headers.ConnectionClose = true;
            using var response = http.Send(request);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// A port the kernel chose on 127.0.0.1; the node host binds it a moment later (another process could take
    /// it in between, which the node host would then report).
    static int FreeLoopbackPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// What a failed run said last: its error message, after whatever it printed before.
    string LastOutputLine() =>
        File.ReadLines(Output).LastOrDefault(line => line.Trim().Length > 0) ?? "no output";
}
