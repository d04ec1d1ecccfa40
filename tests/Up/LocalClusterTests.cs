using System.Text;
using System.Text.Json;
using SsiHv.Core.Cluster;
using SsiHv.Core.Vm;
using SsiHv.Shell.Up;
using SsiHv.Shell.Topology;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Up;

/// <summary>
/// `ssihv up`'s supervision with real child processes and real HTTP: the node hosts are stand-ins (`sleep`, or a
/// shell that fails) whose control APIs <see cref="FakeControlPlane"/> serves per docs/node-host.md. Checks the
/// config files they are given, the order of calls, the summary, an early exit named by node id, and that
/// every child is stopped and the temporary directory removed.
/// </summary>
public sealed class LocalClusterTests : IDisposable
{
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    readonly string scratch = Directory.CreateTempSubdirectory("ssihv-up-test-").FullName;
    // `up` derives each node's control port from its transport port, so the nodes need a free block, not single ports.
    readonly int basePort = LoopbackPorts.FreeUpBase(2);
    readonly List<string> configDirectories = [];

    public void Dispose() => Directory.Delete(scratch, recursive: true);

    [Fact]
    public void RunsTheGuestThroughTheControlApiAndStopsEveryNode()
    {
        var configs = new Dictionary<int, JsonElement>();
        string? token = null;
        var topologyText = TwoNodeTopology();
        using var control = new FakeControlPlane(HttpPorts(2), healthy: [0, 1], bootNode: 0, () => token, runningPolls: 3);
        var log = new StringWriter();
        var console = new MemoryStream();

        var result = LocalCluster.Run(Options(topologyText), (node, configPath) =>
        {
            using var file = JsonDocument.Parse(File.ReadAllText(configPath));
            configs[node.Id.Value] = file.RootElement.Clone();
            token = node.ApiToken;
            if (node.Boot)
                Assert.Equal(topologyText, File.ReadAllText(file.RootElement.GetProperty("topology").GetString()!));
            return PidRecordingSleep(node.Id.Value, configPath);
        }, log, console);

        Assert.True(result.Vm.ExitCode == 0, log.ToString());
        Assert.Equal("stopped", result.Vm.State);
        Assert.Equal(2, result.Pages.Nodes.Count);
        Assert.Equal(0, control.UnauthorizedRequests);

        var boot = configs[0];
        Assert.True(boot.GetProperty("boot").GetBoolean());
        Assert.Equal($"127.0.0.1:{basePort}", boot.GetProperty("transport").GetString());
        Assert.Equal($"127.0.0.1:{basePort + 1000}", boot.GetProperty("http").GetString());
        Assert.Equal(512, boot.GetProperty("memoryBudgetMiB").GetInt64());
        Assert.False(boot.TryGetProperty("join", out _));
        var memory = configs[1];
        Assert.Equal($"http://127.0.0.1:{basePort + 1000}", memory.GetProperty("join").GetString());
        Assert.Equal(0, memory.GetProperty("initiator").GetInt32());
        Assert.False(memory.TryGetProperty("boot", out _));
        Assert.Equal(boot.GetProperty("secret").GetString(), memory.GetProperty("secret").GetString());
        Assert.True(boot.GetProperty("secret").GetString()!.Length >= 32);

        using var vmRequest = JsonDocument.Parse(control.VmRequestBody!);
        Assert.Equal("probe", vmRequest.RootElement.GetProperty("guest").GetString());
        Assert.Equal(120, vmRequest.RootElement.GetProperty("timeoutSeconds").GetInt32());

        var summary = string.Join('\n', ClusterSummary.Lines(result.Vm, result.Pages));
        Assert.Contains("the guest powered off", summary);
        Assert.Contains("p50 71.5 µs, p99 140.3 µs", summary);
        Assert.Contains("node 1: sent 19.5 MiB, received 39.1 MiB; fetches over RDMA READ over rxe0", summary);
        Assert.Contains("200,000", summary);

        AssertStoppedAndCleanedUp(2, log.ToString());
    }

    [Fact]
    public void AKernelAndInitrdAreCopiedIntoTheBootNodesImageDirectoryAndTheVmNamesTheCopies()
    {
        // From two directories with the same file name: the copies must still be two files, both inside one directory.
        var kernel = WriteFile(Path.Combine(scratch, "k", "image"), [1, 2, 3]);
        var initrd = WriteFile(Path.Combine(scratch, "i", "image"), [4, 5]);
        JsonElement? bootConfig = null;
        using var control = new FakeControlPlane(HttpPorts(2), healthy: [0, 1], bootNode: 0, () => bootConfig?.GetProperty("apiToken").GetString(), runningPolls: 0);
        var options = Options(TwoNodeTopology()) with
        {
            Vm = new VmRequest(new Guest(GuestImage.NewKernel(kernel, Microsoft.FSharp.Core.FSharpOption<string>.Some(initrd)), "console=ttyS0"), TimeSpan.FromSeconds(120)),
        };
        var log = new StringWriter();

        LocalCluster.Run(options, (node, configPath) =>
        {
            using var file = JsonDocument.Parse(File.ReadAllText(configPath));
            if (node.Boot)
            {
                bootConfig = file.RootElement.Clone();
                var images = file.RootElement.GetProperty("imageDirectory").GetString()!;
                Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(images, "kernel")));
                Assert.Equal([4, 5], File.ReadAllBytes(Path.Combine(images, "initrd")));
            }
            else
                Assert.False(file.RootElement.TryGetProperty("imageDirectory", out _));
            return PidRecordingSleep(node.Id.Value, configPath);
        }, log, new MemoryStream());

        var images = bootConfig!.Value.GetProperty("imageDirectory").GetString()!;
        Assert.Equal(configDirectories[0], Path.GetDirectoryName(images));
        using var vmRequest = JsonDocument.Parse(control.VmRequestBody!);
        var copies = (vmRequest.RootElement.GetProperty("kernel").GetString()!, vmRequest.RootElement.GetProperty("initrd").GetString()!);
        Assert.Equal((Path.Combine(images, "kernel"), Path.Combine(images, "initrd")), copies);
        AssertStoppedAndCleanedUp(2, log.ToString());
    }

    [Fact]
    public void AKernelThatIsNoRegularFileIsInputErrorBeforeAnyNodeStarts()
    {
        var options = Options(TwoNodeTopology()) with
        {
            Vm = new VmRequest(new Guest(GuestImage.NewKernel(scratch, null), ""), TimeSpan.FromSeconds(120)),
        };
        var failure = Assert.Throws<ClusterInputException>(() =>
            LocalCluster.Run(options, (_, _) => throw new InvalidOperationException("nothing may start"), TextWriter.Null, new MemoryStream()));
        Assert.Equal($"ssihv up: {scratch}: is a directory, not a regular file", Assert.Single(failure.Lines));
    }

    static string WriteFile(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void ANodeHostThatExitsEarlyIsNamedWithItsLastLines()
    {
        using var control = new FakeControlPlane(HttpPorts(2), healthy: [0], bootNode: 0, () => null, runningPolls: 0);
        var log = new StringWriter();

        var failure = Assert.Throws<ClusterRunException>(() => LocalCluster.Run(Options(TwoNodeTopology()), (node, configPath) =>
            node.Id.Value == 1
                ? new CommandLine("sh", ["-c", "echo 'cannot bind 127.0.0.1: address in use' >&2; exit 3"])
                : PidRecordingSleep(node.Id.Value, configPath), log, new MemoryStream()));

        Assert.Contains("node 1 (pid ", failure.Lines[0]);
        Assert.Contains("exited with code 3", failure.Lines[0]);
        Assert.Contains(failure.Lines, l => l.Contains("cannot bind 127.0.0.1: address in use"));
        Assert.Contains("[node 1] cannot bind 127.0.0.1: address in use", log.ToString());
        AssertStoppedAndCleanedUp(1, log.ToString());
    }

    [Fact]
    public void ATopologyThatCannotBePlannedIsInputErrorNamingTheField()
    {
        var text = TwoNodeTopology().Replace($"127.0.0.1:{basePort + 1}", "10.1.2.3:7000");
        var failure = Assert.Throws<ClusterInputException>(() =>
            LocalCluster.Run(Options(text), (_, _) => throw new InvalidOperationException("nothing may start"), TextWriter.Null, new MemoryStream()));
        Assert.Equal("lab.json: nodes[1].address: 10.1.2.3 is not a loopback address; ssihv up runs every node on this machine: use 127.x.x.x, or --netns",
            Assert.Single(failure.Lines));
    }

    [Fact]
    public void AHealthWaitThatRunsOutNamesTheNodeAndWhatItSaw()
    {
        // Nobody serves node 0's control API: the wait must end at its limit, not hang.
        var log = new StringWriter();
        var options = Options(TwoNodeTopology()) with { StartTimeout = TimeSpan.FromSeconds(2) };
        var failure = Assert.Throws<ClusterRunException>(() =>
            LocalCluster.Run(options, (node, configPath) => PidRecordingSleep(node.Id.Value, configPath), log, new MemoryStream()));
        Assert.Contains($"gave up waiting for node 0 at http://127.0.0.1:{basePort + 1000}/ to answer /v1/health after 2 s", failure.Lines[0]);
        AssertStoppedAndCleanedUp(1, log.ToString());
    }

    [Fact]
    public void SigtermStopsTheRunAndEveryNode()
    {
        var log = new StringWriter();
        var failure = Assert.Throws<ClusterRunException>(() => LocalCluster.Run(Options(TwoNodeTopology()), (node, configPath) =>
        {
            // As `kill -TERM` from outside while the cluster forms; `up` handles it instead of dying.
            SsiHv.Interop.Linux.ProcessSignal.Terminate(Environment.ProcessId);
            return PidRecordingSleep(node.Id.Value, configPath);
        }, log, new MemoryStream()));

        Assert.Equal("ssihv up: interrupted by SIGTERM; the cluster was stopped", Assert.Single(failure.Lines));
        // The signal arrives while the stand-in starts, so `up` may stop it before its shell wrote its pid.
        AssertStoppedAndCleanedUp(1, log.ToString(), mayStopBeforeRecording: true);
    }

    Dictionary<int, int> HttpPorts(int count) =>
        Enumerable.Range(0, count).ToDictionary(id => id, id => basePort + id + 1000);

    string TwoNodeTopology() => $$"""
        {
          "name": "two-node",
          "nodes": [
            { "id": 0, "cpus": 2, "memoryMiB": 1024, "address": "127.0.0.1:{{basePort}}" },
            { "id": 1, "cpus": 0, "memoryMiB": 1024, "address": "127.0.0.1:{{basePort + 1}}", "initiator": 0 }
          ]
        }
        """;

    static LocalClusterOptions Options(string topologyText)
    {
        var bytes = Encoding.UTF8.GetBytes(topologyText);
        Assert.True(TopologyFile.TryParse("lab.json", bytes, out var topology, out var problems), string.Join('\n', problems));
        return new LocalClusterOptions(topology, "lab.json", bytes, ClusterPlan.Addressing.Loopback,
            new VmRequest(new Guest(GuestImage.Probe, ""), TimeSpan.FromSeconds(120)), null, null, StartTimeout);
    }

    /// A long-lived stand-in for a node host that leaves its pid in the scratch directory; notes where its
    /// configuration file was, to check that the directory is gone afterwards.
    CommandLine PidRecordingSleep(int id, string configPath)
    {
        Assert.True(File.Exists(configPath));
        configDirectories.Add(Path.GetDirectoryName(configPath)!);
        return new("sh", ["-c", $"echo $$ > {Path.Combine(scratch, $"node{id}.pid")}; exec sleep 600"]);
    }

    void AssertStoppedAndCleanedUp(int expectedSleepers, string log, bool mayStopBeforeRecording = false)
    {
        var pids = Directory.GetFiles(scratch, "node*.pid").Select(f => int.Parse(File.ReadAllText(f).Trim())).ToList();
        if (mayStopBeforeRecording)
            Assert.InRange(pids.Count, 0, expectedSleepers);
        else
            Assert.Equal(expectedSleepers, pids.Count);
        foreach (var pid in pids)
            Assert.False(Directory.Exists($"/proc/{pid}"), $"node host stand-in {pid} still runs\n{log}");
        Assert.NotEmpty(configDirectories);
        foreach (var directory in configDirectories)
            Assert.False(Directory.Exists(directory), $"the temporary directory {directory} is still there");
    }
}
