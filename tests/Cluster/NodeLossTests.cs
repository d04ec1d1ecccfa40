using System.Diagnostics;
using SsiHv.Shell.Cluster;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Cluster;

/// <summary>
/// A memory node host killed (SIGKILL) while the guest depends on it: the boot node must stop the guest with
/// an error naming the lost node within a bounded time, and stay up itself. Real node host processes on
/// 127.0.0.1; the boot node keeps 32 MiB resident, so node 1's pages are written back to it and fetched again.
/// </summary>
public sealed class NodeLossTests(ITestOutputHelper output)
{
    /// The transport's request timeout (2 s) plus its keep-alive (1 s + 3 s), with room for a loaded machine.
    static readonly TimeSpan LossBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Killing_a_memory_node_stops_the_guest_naming_that_node()
    {
        using var cluster = new NodeHostProcesses();
        try
        {
            var boot = cluster.Start(0, cpus: 2, memoryMiB: 64, transportPort: 24100, httpPort: 24200, join: null, memoryBudgetMiB: 32);
            cluster.Start(1, cpus: 0, memoryMiB: 128, transportPort: 24101, httpPort: 24201, join: boot);
            await cluster.Client.WaitAllActiveAsync(boot, [0, 1], TimeSpan.FromSeconds(60), CancellationToken.None);
            await cluster.Client.StartVmAsync(boot, new VmRequest("probe", null, null, "", 240), CancellationToken.None);

            Assert.True(NodeHostProcesses.WaitUntil(() => StoredOnNode1(cluster, boot) >= 2000, TimeSpan.FromSeconds(180)),
                "node 1 never held 2000 pages: the guest did not page to it");
            var clock = Stopwatch.StartNew();
            cluster.Kill(1);
            var vm = await cluster.Client.WaitVmStoppedAsync(boot, LossBound, CancellationToken.None);
            clock.Stop();
            output.WriteLine($"stopped {clock.Elapsed.TotalSeconds:F1} s after the kill: {vm.Reason}");

            Assert.Equal("stopped", vm.State);
            Assert.Equal(1, vm.ExitCode);
            Assert.Contains("node 1", vm.Reason);
            Assert.True(clock.Elapsed < LossBound);
            Assert.False(cluster.HasExited(0), "the boot node host died with its peer");
            Assert.Equal("ok", (await cluster.Client.HealthAsync(boot, CancellationToken.None)).Status);
            Assert.True(NodeHostProcesses.WaitUntil(() => StateOf(cluster, boot, 1) == "lost", LossBound),
                $"node 1 is {StateOf(cluster, boot, 1)}, expected lost");
        }
        finally
        {
            output.WriteLine(cluster.ToString());
        }
    }

    static string StateOf(NodeHostProcesses cluster, Uri boot, int node) =>
        cluster.Client.ClusterAsync(boot, CancellationToken.None).GetAwaiter().GetResult().Members.Single(m => m.Id == node).State;

    static long StoredOnNode1(NodeHostProcesses cluster, Uri boot) =>
        cluster.Client.PagesAsync(boot, CancellationToken.None).GetAwaiter().GetResult().Nodes.SingleOrDefault(n => n.Id == 1)?.PagesStored ?? 0;
}
