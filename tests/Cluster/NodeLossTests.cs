using System.Diagnostics;
using SsiHv.Tests.Support;
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
    static readonly TimeSpan LossBound = TestScale.Seconds(30);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public async Task Killing_a_memory_node_stops_the_guest_naming_that_node()
    {
        using var cluster = new NodeHostProcesses();
        try
        {
            var boot = await cluster.StartTwoNodeProbeAsync();

            Poll.Until($"the guest paging {TestScale.Pages(2000)} pages to node 1", TestScale.Seconds(180),
                () => cluster.StoredAt(boot, 1) >= TestScale.Pages(2000), () => $"{cluster.StoredAt(boot, 1)} pages on node 1");
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
            Poll.Until("node 1 lost", LossBound, () => cluster.StateOf(boot, 1) == "lost", () => $"node 1 is {cluster.StateOf(boot, 1)}");
        }
        finally
        {
            output.WriteLine(cluster.ToString());
        }
    }
}
