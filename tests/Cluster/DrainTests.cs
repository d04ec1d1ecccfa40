using System.Net;
using System.Net.Http.Headers;
using SsiHv.Core.Vm;
using SsiHv.Shell.Up;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Cluster;

/// <summary>
/// Draining a memory node while the guest runs its memtest: the boot node's pager moves every page the node
/// holds to another home, the node leaves, and the memtest still verifies every page of every node. Three real
/// node host processes; the boot node keeps 32 MiB resident, so nodes 1 and 2 hold most of their pages.
/// </summary>
public sealed class DrainTests(ITestOutputHelper output)
{
    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public async Task Draining_a_memory_node_mid_run_moves_its_pages_and_loses_none()
    {
        using var cluster = new NodeHostProcesses();
        try
        {
            // Node 0 is the drain's target (the first remaining home): room for its own 64 MiB and node 1's 128.
            var boot = cluster.Start(0, cpus: 2, memoryMiB: TestScale.GuestMiB(64), join: null,
                memoryBudgetMiB: TestScale.GuestMiB(32), storeMiB: TestScale.GuestMiB(256));
            cluster.Start(1, cpus: 0, memoryMiB: TestScale.GuestMiB(128), join: boot);
            cluster.Start(2, cpus: 0, memoryMiB: TestScale.GuestMiB(128), join: boot);
            await cluster.Client.WaitAllActiveAsync(boot, [0, 1, 2], TestScale.Seconds(60), CancellationToken.None);
            await cluster.Client.StartVmAsync(boot, new VmRequest(new Guest(GuestImage.Probe, ""), TestScale.Seconds(300)), CancellationToken.None);

            // Mid-way through node 1's memtest: many of its pages are only at node 1 now.
            Poll.Until($"node 1 holding {TestScale.Pages(8000)} pages", TestScale.Seconds(180),
                () => cluster.StoredAt(boot, 1) >= TestScale.Pages(8000), () => $"{cluster.StoredAt(boot, 1)} pages on node 1");
            using var http = new HttpClient();
            using var drain = new HttpRequestMessage(HttpMethod.Post, new Uri(boot, "/v1/cluster/nodes/1/drain"));
            drain.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NodeHostProcesses.Token);
            var reply = http.Send(drain);
            Assert.Equal(HttpStatusCode.Accepted, reply.StatusCode);

            Poll.Until("node 1 left", TestScale.Seconds(120), () => cluster.StateOf(boot, 1) == "left", () => $"node 1 is {cluster.StateOf(boot, 1)}");
            Assert.Equal(0, cluster.StoredAt(boot, 1)); // the pager holds nothing of node 1 any more

            var vm = await cluster.Client.WaitVmStoppedAsync(boot, TestScale.Seconds(300), CancellationToken.None);
            Assert.True(vm.ExitCode == 0, $"the guest did not power off: {vm.Reason}");
            MemtestVerdict.AssertEveryNodeVerified(cluster.Stdout(0), nodeCount: 3);
            Assert.Contains("moving the pages homed on node 1 to node 0", cluster.Stderr(0));
        }
        finally
        {
            output.WriteLine(cluster.ToString());
        }
    }
}
