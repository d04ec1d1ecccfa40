using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Control;

/// <summary>
/// Members that left are pruned after the boot node's memberRetentionSeconds, so GET /v1/cluster stays bounded
/// however many nodes come and go; a real node host over HTTP.
/// </summary>
public sealed class MemberRetentionTests
{
    [Fact]
    public async Task Nodes_that_joined_and_left_by_the_dozen_are_pruned_after_the_retention()
    {
        await using var cluster = new ControlCluster();
        var effects = new RecordingEffects();
        var boot = await cluster.StartAsync(ControlCluster.Config(0, 2, 1024, null, memberRetentionSeconds: 1), effects);

        for (var id = 1; id <= 40; id++)
        {
            var join = $$"""{"id":{{id}},"cpus":0,"memoryMiB":64,"address":"127.0.0.1:{{9000 + id}}"}""";
            Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/cluster/join", join)).Status);
            var left = await cluster.PostAsync(boot, $"/v1/cluster/nodes/{id}/leave", "");
            Assert.Equal(202, left.Status);
            Assert.Equal("left", left.Body.GetProperty("state").GetString());
        }

        await Poll.UntilAsync("only the boot node listed", ControlCluster.Patience, async () =>
            (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members").GetArrayLength() == 1);
        lock (cluster.Log)
            Assert.Contains(cluster.Log, line => line.Contains("pruned node(s)") && line.Contains("(left)"));
        // A pruned id is free again.
        Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/cluster/join", """{"id":1,"cpus":0,"memoryMiB":128,"address":"127.0.0.1:9001"}""")).Status);
    }
}
