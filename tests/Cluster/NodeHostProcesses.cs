using System.Diagnostics;
using System.Text;
using SsiHv.Core.Vm;
using SsiHv.Shell.Up;
using SsiHv.Tests.Support;

namespace SsiHv.Tests.Cluster;

/// <summary>
/// Real <c>ssihv node --config FILE</c> processes on 127.0.0.1, started one by one from configurations the test
/// writes (docs/node-host.md), with their output captured and each killable on its own: what the node-loss,
/// drain and hostile-peer tests need that <c>ssihv up</c> hides. Each node's transport and control ports are
/// ones the kernel chose (<see cref="LoopbackPorts.Free"/>). Dispose stops every process still running
/// (SIGTERM, then SIGKILL) and removes the files.
/// </summary>
public sealed class NodeHostProcesses : IDisposable
{
    public const string Token = "node-host-processes-token";
    public const string Secret = "5eC2e7b1a0d94f8c6b3e2a1f0d9c8b7a";
    static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("ssihv-nodes-");
    readonly Dictionary<int, (Process Process, StringBuilder Stdout, StringBuilder Stderr)> nodes = [];
    readonly Dictionary<int, int> transportPorts = [];
    readonly Dictionary<int, Uri> urls = [];

    public ClusterClient Client { get; } = new(Token, TestScale.Seconds(10), _ => { });

    /// Starts node `id`; `join` is the boot node's control URL, null for the boot node itself.
    public Uri Start(int id, int cpus, long memoryMiB, Uri? join, long? memoryBudgetMiB = null, long? storeMiB = null)
    {
        // Told, not bound to 0: a node joins with its transport address, which its peers then dial.
        var ports = LoopbackPorts.Free(2);
        var (transportPort, httpPort) = (ports[0], ports[1]);
        transportPorts[id] = transportPort;
        var fields = new List<string>
        {
            $"\"id\": {id}", $"\"transport\": \"127.0.0.1:{transportPort}\"", $"\"http\": \"127.0.0.1:{httpPort}\"",
            $"\"secret\": \"{Secret}\"", $"\"apiToken\": \"{Token}\"", $"\"cpus\": {cpus}", $"\"memoryMiB\": {memoryMiB}",
            join is null ? "\"boot\": true" : $"\"join\": \"{join.ToString().TrimEnd('/')}\"",
        };
        if (join is not null)
            fields.Add("\"initiator\": 0");
        if (memoryBudgetMiB is { } budget)
            fields.Add($"\"memoryBudgetMiB\": {budget}");
        if (storeMiB is { } store)
            fields.Add($"\"storeMiB\": {store}");
        // In a lab machine the transport's timeouts stretch like the tests' own limits.
        if (TestScale.Scale != 1)
            fields.Add($"\"timeoutScale\": {TestScale.Scale}");
        var config = Path.Combine(directory.FullName, $"node{id}.json");
        File.WriteAllText(config, "{ " + string.Join(", ", fields) + " }");
        var url = new Uri($"http://127.0.0.1:{httpPort}");
        urls[id] = url;
        Launch(id, config, new StringBuilder(), new StringBuilder());
        return url;
    }

    /// SIGKILL and start node `id` again with the same configuration (the same ports), as when its host restarts;
    /// its output goes on in the same buffers.
    public void Restart(int id)
    {
        Kill(id);
        var (process, stdout, stderr) = nodes[id];
        process.Dispose();
        Launch(id, Path.Combine(directory.FullName, $"node{id}.json"), stdout, stderr);
    }

    void Launch(int id, string config, StringBuilder stdout, StringBuilder stderr)
    {
        var (program, arguments) = SsihvCommand.For("node", "--config", config);
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start node {id}");
        process.StandardInput.Close();
        process.OutputDataReceived += (_, line) => { if (line.Data is { } text) lock (stdout) stdout.AppendLine(text); };
        process.ErrorDataReceived += (_, line) => { if (line.Data is { } text) lock (stderr) stderr.AppendLine(text); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        nodes[id] = (process, stdout, stderr);
        Client.WaitHealthyAsync(urls[id], id, TestScale.Seconds(60), CancellationToken.None).GetAwaiter().GetResult();
    }

    /// The smallest paging cluster: node 0 with both vCPUs, 64 MiB of its own and 32 MiB resident; node 1 homing
    /// 128 MiB (an eighth of each in a lab machine, TestScale). Returns the boot node's URL once the probe guest
    /// was started on it.
    public async Task<Uri> StartTwoNodeProbeAsync()
    {
        var boot = Start(0, cpus: 2, memoryMiB: TestScale.GuestMiB(64), join: null, memoryBudgetMiB: TestScale.GuestMiB(32));
        Start(1, cpus: 0, memoryMiB: TestScale.GuestMiB(128), join: boot);
        await Client.WaitAllActiveAsync(boot, [0, 1], TestScale.Seconds(60), CancellationToken.None);
        await Client.StartVmAsync(boot, new VmRequest(new Guest(GuestImage.Probe, ""), TestScale.Seconds(240)), CancellationToken.None);
        return boot;
    }

    /// Pages whose newest bytes are at `node`'s page store, as the boot node's pager counts them.
    public long StoredAt(Uri boot, int node) =>
        Client.PagesAsync(boot, CancellationToken.None).GetAwaiter().GetResult().Nodes.SingleOrDefault(n => n.Id == node)?.PagesStored ?? 0;

    /// The membership state of `node` at the boot node; null when the boot node does not list it.
    public string? StateOf(Uri boot, int node) =>
        Client.ClusterAsync(boot, CancellationToken.None).GetAwaiter().GetResult().Members.SingleOrDefault(m => m.Id == node)?.State;

    /// The port node `id`'s transport listens on, for a test that connects to it as a stranger.
    public int TransportPort(int id) => transportPorts[id];

    public string Stdout(int id) { var s = nodes[id].Stdout; lock (s) return s.ToString(); }

    public string Stderr(int id) { var s = nodes[id].Stderr; lock (s) return s.ToString(); }

    public bool HasExited(int id) => nodes[id].Process.HasExited;

    /// SIGSTOP: the node host answers nothing (no keep-alive, no HTTP) until <see cref="Continue"/>, as a hung machine.
    public void Pause(int id) => SsiHv.Interop.Linux.ProcessSignal.Stop(nodes[id].Process.Id);

    public void Continue(int id) => SsiHv.Interop.Linux.ProcessSignal.Continue(nodes[id].Process.Id);

    /// SIGKILL: the node host gets no chance to say goodbye, as when its machine dies.
    public void Kill(int id)
    {
        nodes[id].Process.Kill();
        nodes[id].Process.WaitForExit(StopGrace);
    }

    public override string ToString() => string.Join("\n", nodes.Keys.Order().Select(id =>
        $"--- node {id} stdout\n{Stdout(id)}--- node {id} stderr\n{Stderr(id)}"));

    public void Dispose()
    {
        foreach (var (process, _, _) in nodes.Values)
        {
            if (!process.HasExited)
            {
                if (SsiHv.Interop.Linux.ProcessSignal.Terminate(process.Id) && !process.WaitForExit(StopGrace))
                    process.Kill();
            }
            process.Dispose();
        }
        Client.Dispose();
        directory.Delete(recursive: true);
    }
}
