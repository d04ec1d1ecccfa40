using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Cluster;

/// <summary>
/// A memory node host that hangs (SIGSTOP) past the keep-alive is lost to its boot node; once it runs again
/// (SIGCONT) it must see that, say so, and join again until it is active. One whose boot node restarts (and so
/// no longer lists it) must do the same. Real node host processes on 127.0.0.1, no VM (no KVM needed).
/// </summary>
public sealed class RejoinTests
{
    /// The keep-alive (ping after 1 s, lost 3 s later) with room for a loaded machine.
    static readonly TimeSpan LossBound = TestScale.Seconds(30);
    /// The memory node's membership check (every 2 s), its join and the boot node's hello with it.
    static readonly TimeSpan RejoinBound = TestScale.Seconds(30);

    /// A boot node (0) and a memory node (1) joined to it, both active; returns the boot node's URL.
    static async Task<Uri> TwoActiveNodesAsync(NodeHostProcesses cluster)
    {
        var boot = cluster.Start(0, cpus: 2, memoryMiB: 64, join: null);
        cluster.Start(1, cpus: 0, memoryMiB: 64, join: boot);
        await cluster.Client.WaitAllActiveAsync(boot, [0, 1], TestScale.Seconds(60), CancellationToken.None);
        return boot;
    }

    [Fact]
    public async Task A_memory_node_stopped_until_it_is_lost_joins_again_when_it_runs_and_becomes_active()
    {
        using var cluster = new NodeHostProcesses();
        var boot = await TwoActiveNodesAsync(cluster);

        cluster.Pause(1);
        try
        {
            Poll.Until("node 1 lost at the boot node", LossBound, () => cluster.StateOf(boot, 1) == "lost", () => $"{cluster.StateOf(boot, 1)}\n{cluster}");
        }
        finally
        {
            cluster.Continue(1);
        }

        Poll.Until("node 1 active again", RejoinBound, () => cluster.StateOf(boot, 1) == "active", () => $"{cluster.StateOf(boot, 1)}\n{cluster}");
        Assert.Contains("has node 1 as lost", cluster.Stderr(1));
        Assert.Contains("joining again", cluster.Stderr(1));
        Assert.False(cluster.HasExited(1));
    }

    [Fact]
    public async Task A_memory_node_whose_boot_node_restarted_says_so_and_joins_it_again()
    {
        using var cluster = new NodeHostProcesses();
        var boot = await TwoActiveNodesAsync(cluster);

        cluster.Restart(0);

        Poll.Until("node 1 active at the restarted boot node", RejoinBound, () => cluster.StateOf(boot, 1) == "active",
            () => $"{cluster.StateOf(boot, 1)}\n{cluster}");
        Assert.Contains("does not list node 1 (it restarted, or pruned this node); joining again", cluster.Stderr(1));
        Assert.False(cluster.HasExited(1));
    }
}
