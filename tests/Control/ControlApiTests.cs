using System.Text.Json;
using SsiHv.Core.Cluster;
using SsiHv.Shell.Nodes;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Control;

/// <summary>The HTTP control API of docs/node-host.md on real node hosts over real sockets.</summary>
public sealed class ControlApiTests
{
    const string JoinBody = """{"id":1,"cpus":0,"memoryMiB":512,"address":"127.0.0.1:7201","initiator":0}""";

    static string[] Names(JsonElement body) => body.EnumerateObject().Select(p => p.Name).ToArray();

    static void AssertProblem((int Status, string ContentType, JsonElement Body) reply, int status, string detailContains)
    {
        Assert.Equal(status, reply.Status);
        Assert.Equal("application/problem+json", reply.ContentType);
        Assert.Equal(["type", "title", "status", "detail"], Names(reply.Body));
        Assert.Equal(status, reply.Body.GetProperty("status").GetInt32());
        Assert.Contains(detailContains, reply.Body.GetProperty("detail").GetString());
    }

    static Core.Topology.Topology ExampleTopology() =>
        Shell.Topology.TopologyFile.TryLoad(Cli.TestFiles.ExampleTopologyPath, out var topology, out var problems)
            ? topology : throw new InvalidOperationException(string.Join("\n", problems));

    /// POSTs node 1's join to the boot node (202) and waits until GET /v1/cluster shows it active.
    static async Task JoinNodeOneAsync(ControlCluster cluster, NodeHost boot, string joinBody)
    {
        Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/cluster/join", joinBody)).Status);
        await NodeOneBecomesAsync(cluster, boot, "active");
    }

    static Task NodeOneBecomesAsync(ControlCluster cluster, NodeHost boot, string state) =>
        Poll.UntilAsync($"node 1 {state}", ControlCluster.Patience, async () =>
            (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members")[1].GetProperty("state").GetString() == state);

    static async Task StartProbeVmAsync(ControlCluster cluster, NodeHost boot) =>
        Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/vm", """{"guest":"probe"}""")).Status);

    static Task VmBecomesAsync(ControlCluster cluster, NodeHost boot, string state) =>
        Poll.UntilAsync($"the VM {state}", ControlCluster.Patience, async () =>
            (await cluster.GetAsync(boot, "/v1/vm")).Body.GetProperty("state").GetString() == state);

    /// The boot node and node 1 (memory-only, active) with the probe VM running on them.
    static async Task<(NodeHost Boot, RecordingEffects Effects)> RunningVmOnBootAndNodeOneAsync(ControlCluster cluster)
    {
        var (boot, effects) = await cluster.StartBootAsync();
        await JoinNodeOneAsync(cluster, boot, JoinBody);
        await StartProbeVmAsync(cluster, boot);
        await VmBecomesAsync(cluster, boot, "running");
        return (boot, effects);
    }

    [Fact]
    public async Task Health_node_cluster_vm_and_pages_answer_in_the_documented_shapes()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();

        var health = await cluster.GetAsync(boot, "/v1/health");
        Assert.Equal(200, health.Status);
        Assert.Equal("ok", health.Body.GetProperty("status").GetString());
        Assert.Equal(0, health.Body.GetProperty("node").GetInt32());

        var node = await cluster.GetAsync(boot, "/v1/node");
        Assert.Equal(["id", "cpus", "memoryMiB", "transport", "http", "boot", "pagesStored"], Names(node.Body));
        Assert.Equal(2, node.Body.GetProperty("cpus").GetInt32());
        Assert.Equal("127.0.0.1:7200", node.Body.GetProperty("transport").GetString());
        Assert.Equal(boot.HttpEndpoint.ToString(), node.Body.GetProperty("http").GetString());
        Assert.True(node.Body.GetProperty("boot").GetBoolean());
        Assert.Equal(123, node.Body.GetProperty("pagesStored").GetInt64());

        var state = await cluster.GetAsync(boot, "/v1/cluster");
        Assert.Equal(["bootNode", "members", "vm"], Names(state.Body));
        var member = Assert.Single(state.Body.GetProperty("members").EnumerateArray().ToArray());
        Assert.Equal(["id", "cpus", "memoryMiB", "address", "initiator", "state"], Names(member));
        Assert.Equal("active", member.GetProperty("state").GetString());
        Assert.Equal("notStarted", state.Body.GetProperty("vm").GetProperty("state").GetString());

        var vm = await cluster.GetAsync(boot, "/v1/vm");
        Assert.Equal(["state", "reason", "exitCode"], Names(vm.Body));
        Assert.Equal(JsonValueKind.Null, vm.Body.GetProperty("exitCode").ValueKind);

        var pages = await cluster.GetAsync(boot, "/v1/pages");
        Assert.Equal(["nodes", "faults", "remoteFaultLatencyMicroseconds", "peers"], Names(pages.Body));
        var home = pages.Body.GetProperty("nodes")[1];
        Assert.Equal(["id", "pagesHomed", "pagesStored", "pagesResident", "pagesRemote"], Names(home));
        Assert.Equal(700, home.GetProperty("pagesStored").GetInt64());
        Assert.Equal(11, pages.Body.GetProperty("faults").GetProperty("read").GetInt64());
        // 6 faults in the 32 µs bucket and 4 in the 64 µs one: the median is in the first, p99 in the second.
        Assert.Equal(32, pages.Body.GetProperty("remoteFaultLatencyMicroseconds").GetProperty("p50").GetDouble(), 6);
        Assert.Equal(64, pages.Body.GetProperty("remoteFaultLatencyMicroseconds").GetProperty("p99").GetDouble(), 6);
        var peer = Assert.Single(pages.Body.GetProperty("peers").EnumerateArray().ToArray());
        Assert.Equal(4096 * 3, peer.GetProperty("bytesSent").GetInt64());
        Assert.Equal("RDMA READ over rxe0", peer.GetProperty("fetches").GetString());

        AssertProblem(await cluster.GetAsync(boot, "/v1/topology"), 404, "POST /v1/vm");
        AssertProblem(await cluster.GetAsync(boot, "/v1/acpi/SRAT"), 404, "POST /v1/vm");
    }

    [Theory]
    [InlineData("/v1/cluster/join", JoinBody)]
    [InlineData("/v1/cluster/nodes/1/drain", "")]
    [InlineData("/v1/cluster/nodes/1/leave", "")]
    [InlineData("/v1/vm", """{"guest":"probe"}""")]
    [InlineData("/v1/vm/stop", "")]
    public async Task Every_POST_without_the_right_bearer_token_is_401(string path, string body)
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        AssertProblem(await cluster.PostAsync(boot, path, body, token: null), 401, "Authorization: Bearer");
        AssertProblem(await cluster.PostAsync(boot, path, body, token: "not-the-token-at-all"), 401, "not this cluster's apiToken");
        AssertProblem(await cluster.PostAsync(boot, path, body, token: ControlCluster.Token + "x"), 401, "not this cluster's apiToken");
        Assert.Empty(effects.Calls);
        Assert.Equal("notStarted", (await cluster.GetAsync(boot, "/v1/vm")).Body.GetProperty("state").GetString());
        Assert.Single((await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members").EnumerateArray());
    }

    [Theory]
    [InlineData("/v1/cluster/join", """{"id":1,""", "not valid JSON")]
    [InlineData("/v1/cluster/join", "", "empty body")]
    [InlineData("/v1/cluster/join", """{"id":"one","cpus":0}""", "id: expected an integer")]
    [InlineData("/v1/cluster/join", """{"id":1,"cpus":0,"address":"127.0.0.1:7201"}""", "memoryMiB: required")]
    [InlineData("/v1/cluster/join", """{"id":1,"cpus":0,"memoryMiB":5,"address":"node1"}""", "address: expected IPv4:port")]
    [InlineData("/v1/cluster/join", """{"id":-1,"cpus":0,"memoryMiB":5,"address":"127.0.0.1:7201"}""", "id: expected 0 or more")]
    [InlineData("/v1/cluster/nodes/one/drain", "", "id: expected a node id")]
    [InlineData("/v1/cluster/nodes/-1/leave", "", "id: expected a node id")]
    [InlineData("/v1/vm", """{"guest":"probe","kernel":"/boot/vmlinuz"}""", "guest: give exactly one")]
    [InlineData("/v1/vm", """{"guest":"doom"}""", "guest: unknown guest")]
    [InlineData("/v1/vm", """{"guest":"probe","timeoutSeconds":0}""", "timeoutSeconds: expected")]
    public async Task A_malformed_or_invalid_body_is_400_naming_the_problem(string path, string body, string detail)
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        AssertProblem(await cluster.PostAsync(boot, path, body), 400, detail);
        Assert.Empty(effects.Calls);
    }

    [Fact]
    public async Task A_body_that_is_not_UTF8_is_400_naming_the_offset()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        byte[] body = [.. System.Text.Encoding.UTF8.GetBytes("{\"guest\":\"pro"), 0xC3, 0x28, (byte)'"', (byte)'}'];
        AssertProblem(await cluster.SendAsync(boot, HttpMethod.Post, "/v1/vm", body, "application/json"), 400,
            "not valid UTF-8: byte 0xC3 at offset 13");
        Assert.Empty(effects.Calls);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task A_body_that_is_not_JSON_by_its_content_type_is_415(string contentType)
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        AssertProblem(await cluster.SendAsync(boot, HttpMethod.Post, "/v1/vm", "{\"guest\":\"probe\"}"u8.ToArray(), contentType), 415,
            $"Content-Type: expected application/json, found {contentType}");
        Assert.Empty(effects.Calls);
        Assert.Equal(202, (await cluster.SendAsync(boot, HttpMethod.Post, "/v1/vm", "{\"guest\":\"probe\"}"u8.ToArray(), null)).Status);
    }

    [Fact]
    public async Task A_body_past_the_limit_is_413()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        var body = System.Text.Encoding.UTF8.GetBytes("{\"append\":\"" + new string('x', 70_000) + "\"}");
        AssertProblem(await cluster.SendAsync(boot, HttpMethod.Post, "/v1/vm", body, "application/json"), 413, "larger than 65536 bytes");
        Assert.Empty(effects.Calls);
    }

    [Fact]
    public async Task Unknown_paths_wrong_methods_and_overlong_targets_are_problems_too()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();
        AssertProblem(await cluster.GetAsync(boot, "/v1/nothing-here"), 404, "GET /v1/nothing-here: no such resource");
        AssertProblem(await cluster.GetAsync(boot, "/v1/vm/stop"), 405, "GET /v1/vm/stop: this path answers POST");
        AssertProblem(await cluster.SendAsync(boot, HttpMethod.Delete, "/v1/cluster", [], null), 405, "this path answers GET");
        AssertProblem(await cluster.GetAsync(boot, "/v1/" + new string('a', 3000)), 414, "at most 2048 are read");
    }

    [Fact]
    public async Task Idle_connections_past_the_limit_are_closed_and_the_API_answers_once_they_are_gone()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();
        var idle = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < NodeLimits.HttpConnections + 200; i++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(boot.HttpEndpoint);
                idle.Add(socket);
            }
            // Kestrel closes a connection past its limit right after accepting it: its client reads the end.
            var closedByServer = 0;
            await Poll.UntilAsync("the connections past the limit closed by the node host", ControlCluster.Patience, async () =>
            {
                closedByServer = 0;
                foreach (var socket in idle.Skip(NodeLimits.HttpConnections))
                    if (socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && await socket.ReceiveAsync(new byte[1]) == 0)
                        closedByServer++;
                return closedByServer > 0;
            });
        }
        finally
        {
            foreach (var socket in idle)
                socket.Dispose();
        }
        await Poll.UntilAsync("GET /v1/health answered after the flood", ControlCluster.Patience, async () =>
        {
            try { return (await cluster.GetAsync(boot, "/v1/health")).Status == 200; }
            catch (HttpRequestException) { return false; }
        });
    }

    [Fact]
    public async Task A_memory_node_joins_through_its_join_client_and_becomes_active()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        var member = await cluster.StartAsync(ControlCluster.Config(1, 0, 512, boot.HttpUrl.ToString().TrimEnd('/'), initiator: 0), new RecordingEffects());

        await Poll.UntilAsync("node 1 active in GET /v1/cluster", ControlCluster.Patience, async () =>
        {
            var members = (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members").EnumerateArray().ToList();
            return members.Any(m => m.GetProperty("id").GetInt32() == 1 && m.GetProperty("state").GetString() == "active");
        });
        Assert.Contains("connect 1 127.0.0.1:7201", effects.Calls);

        // A memory node points at its boot node for cluster state, and refuses to take joins itself.
        AssertProblem(await cluster.GetAsync(member, "/v1/cluster"), 404, $"boot node at {boot.HttpUrl.ToString().TrimEnd('/')}");
        AssertProblem(await cluster.PostAsync(member, "/v1/cluster/join", JoinBody), 404, "memory node");
        AssertProblem(await cluster.PostAsync(member, "/v1/cluster/nodes/1/leave", ""), 404, "memory node");
        // The same join again (a joiner whose reply was lost retries) is accepted and changes nothing; another
        // node under a member's id is refused by the membership, with its text.
        var again = await cluster.PostAsync(boot, "/v1/cluster/join", JoinBody);
        var again2 = await cluster.PostAsync(boot, "/v1/cluster/join", JoinBody);
        Assert.Equal((202, 202), (again.Status, again2.Status));
        Assert.Equal(again.Body.GetRawText(), again2.Body.GetRawText());
        Assert.Equal("active", again.Body.GetProperty("state").GetString());
        Assert.Equal(2, (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members").GetArrayLength());
        Assert.Single(effects.Calls, call => call == "connect 1 127.0.0.1:7201");
        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/join", JoinBody.Replace("512", "1024")), 409,
            "node 1 is already a member (Active) with other values: memoryMiB 512, asked 1024; one id is one node");
    }

    [Fact]
    public async Task A_memory_node_host_that_stops_leaves_its_boot_node_and_is_left_not_lost()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        var member = await cluster.StartAsync(ControlCluster.Config(1, 0, 512, boot.HttpUrl.ToString().TrimEnd('/'), initiator: 0), new RecordingEffects());
        await NodeOneBecomesAsync(cluster, boot, "active");

        await member.DisposeAsync();

        Assert.Equal("left", (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members")[1].GetProperty("state").GetString());
        Assert.Contains("disconnect 1", effects.Calls);
        lock (cluster.Log)
            Assert.Contains(cluster.Log, line => line.StartsWith("node 1: leave ") && line.Contains("/v1/cluster/nodes/1/leave: accepted"));
    }

    [Fact]
    public async Task A_memory_node_host_whose_memory_the_VM_uses_logs_the_refused_leave_and_stops_all_the_same()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();
        var member = await cluster.StartAsync(ControlCluster.Config(1, 0, 512, boot.HttpUrl.ToString().TrimEnd('/'), initiator: 0), new RecordingEffects());
        await NodeOneBecomesAsync(cluster, boot, "active");
        await StartProbeVmAsync(cluster, boot);
        await VmBecomesAsync(cluster, boot, "running");

        await member.DisposeAsync();

        Assert.Equal("active", (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members")[1].GetProperty("state").GetString());
        lock (cluster.Log)
            Assert.Contains(cluster.Log, line => line.StartsWith("node 1: leave ") && line.Contains("refused, so the boot node will count this node lost: 409"));
    }

    [Fact]
    public async Task A_memory_node_with_cpus_is_refused_with_400_naming_cpus_as_its_config_file_would_be_and_is_no_member()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();

        // Its vCPUs would run on the boot node while the SRAT put them on node 1: a wrong answer to the guest.
        var refused = await cluster.PostAsync(boot, "/v1/cluster/join", JoinBody.Replace("\"cpus\":0", "\"cpus\":2").Replace(",\"initiator\":0", ""));
        const string rule = "cpus: only the boot node may contribute CPUs today; expected 0 on a memory node, found 2";
        AssertProblem(refused, 400, $"node 1 cannot join: {rule}");
        var fromFile = NodeConfig.validate(ControlCluster.RawConfig(1, 2, 512, boot.HttpUrl.ToString().TrimEnd('/')));
        Assert.Equal([rule], fromFile.ErrorValue.Select(NodeConfig.errorText).ToArray());

        var members = (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members").EnumerateArray();
        Assert.Equal([0], members.Select(m => m.GetProperty("id").GetInt32()).ToArray());
        Assert.Empty(effects.Calls);
    }

    [Fact]
    public async Task A_join_that_cannot_reach_its_boot_node_fails_naming_the_boot_url()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();
        var url = boot.HttpUrl.ToString().TrimEnd('/');
        var config = ControlCluster.Config(1, 0, 512, url);
        await cluster.DisposeAsync(); // nobody listens at the boot URL any more
        await using var lonely = new ControlCluster();
        var failure = await Assert.ThrowsAsync<Shell.Control.JoinFailedException>(() => lonely.StartAsync(config, new RecordingEffects(),
            new Shell.Control.JoinClient.Retry(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(1))));
        Assert.Contains(url, failure.Message);
        Assert.Contains(lonely.Log, line => line.Contains("attempt 2"));
    }

    [Fact]
    public async Task A_join_with_the_wrong_token_ends_at_once_with_the_boot_nodes_answer()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        var url = boot.HttpUrl.ToString().TrimEnd('/');
        var failure = await Assert.ThrowsAsync<Shell.Control.JoinFailedException>(() =>
            cluster.StartAsync(ControlCluster.Config(1, 0, 512, url, token: "some-other-clusters-token"), new RecordingEffects()));
        Assert.Contains($"the boot node at {url} refused the join: 401", failure.Message);
        Assert.Empty(effects.Calls);
    }

    [Fact]
    public async Task The_boot_nodes_topology_file_describes_the_VM_when_it_matches_the_joined_nodes()
    {
        var template = ExampleTopology();
        await using var cluster = new ControlCluster();
        var effects = new RecordingEffects();
        var boot = await cluster.StartAsync(ControlCluster.Config(0, 2, 1024, null), effects, template: template);
        await JoinNodeOneAsync(cluster, boot, JoinBody.Replace("512", "1024"));
        await StartProbeVmAsync(cluster, boot);
        await VmBecomesAsync(cluster, boot, "running");
        Assert.Equal(template.Distances, effects.StartedTopology!.Distances);
        Assert.Equal(template.LatencyNs, effects.StartedTopology.LatencyNs);
        Assert.Equal(template.Name, (await cluster.GetAsync(boot, "/v1/topology")).Body.GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_topology_file_that_differs_from_the_joined_nodes_stops_the_VM_naming_the_node()
    {
        var template = ExampleTopology();
        await using var cluster = new ControlCluster();
        var effects = new RecordingEffects();
        var boot = await cluster.StartAsync(ControlCluster.Config(0, 2, 1024, null), effects, template: template);
        await JoinNodeOneAsync(cluster, boot, JoinBody);
        await StartProbeVmAsync(cluster, boot);
        await VmBecomesAsync(cluster, boot, "stopped");
        var vm = (await cluster.GetAsync(boot, "/v1/vm")).Body;
        Assert.Contains("node 1 joined with cpus 0 and memoryMiB 512 but the topology file gives it cpus 0 and memoryMiB 1024", vm.GetProperty("reason").GetString());
        Assert.Equal(1, vm.GetProperty("exitCode").GetInt32());
        Assert.DoesNotContain(effects.Calls, c => c.StartsWith("start vm"));
    }

    [Fact]
    public async Task A_VM_starts_on_the_active_nodes_serves_its_topology_and_tables_and_stops()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        await JoinNodeOneAsync(cluster, boot, JoinBody);

        var started = await cluster.PostAsync(boot, "/v1/vm", """{"guest":"probe","timeoutSeconds":60}""");
        Assert.Equal(202, started.Status);
        Assert.Equal(["state", "reason", "exitCode"], Names(started.Body));
        await VmBecomesAsync(cluster, boot, "running");
        Assert.Equal(2, effects.StartedTopology!.Nodes.Length);
        AssertProblem(await cluster.PostAsync(boot, "/v1/vm", """{"guest":"probe"}"""), 409, "already starting or running");

        var topology = await cluster.GetAsync(boot, "/v1/topology");
        Assert.Equal(200, topology.Status);
        var nodes = topology.Body.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal([(0, 2, 1024L), (1, 0, 512L)], nodes.Select(n => (n.GetProperty("id").GetInt32(), n.GetProperty("cpus").GetInt32(), n.GetProperty("memoryMiB").GetInt64())));
        Assert.Equal(0, nodes[1].GetProperty("initiator").GetInt32());
        Assert.Equal("bind", topology.Body.GetProperty("placement").GetString());

        using (var srat = await cluster.Http.GetAsync(new Uri(boot.HttpUrl, "/v1/acpi/SRAT")))
        {
            Assert.Equal("application/octet-stream", srat.Content.Headers.ContentType?.MediaType);
            var bytes = await srat.Content.ReadAsByteArrayAsync();
            Assert.Equal("SRAT"u8.ToArray(), bytes[..4]);
            Assert.Equal(BitConverter.ToUInt32(bytes, 4), (uint)bytes.Length);
        }
        AssertProblem(await cluster.GetAsync(boot, "/v1/acpi/NOPE"), 404, "SRAT");

        Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/vm/stop", "")).Status);
        await VmBecomesAsync(cluster, boot, "stopped");
        var stopped = (await cluster.GetAsync(boot, "/v1/vm")).Body;
        Assert.Equal(0, stopped.GetProperty("exitCode").GetInt32());
        Assert.Equal("stopped through POST /v1/vm/stop", stopped.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Draining_a_memory_node_of_a_running_VM_moves_its_pages_then_it_leaves()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await RunningVmOnBootAndNodeOneAsync(cluster);

        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/nodes/0/drain", ""), 409, "node 0 is the boot node");
        var drained = await cluster.PostAsync(boot, "/v1/cluster/nodes/1/drain", "");
        Assert.Equal(202, drained.Status);
        Assert.Equal(1, drained.Body.GetProperty("id").GetInt32());
        Assert.Contains(drained.Body.GetProperty("state").GetString(), new[] { "draining", "left" });

        await NodeOneBecomesAsync(cluster, boot, "left");
        var calls = effects.Calls.ToList();
        Assert.True(calls.IndexOf("move pages 1 -> 0") >= 0 && calls.IndexOf("move pages 1 -> 0") < calls.IndexOf("disconnect 1"), string.Join("\n", calls));
        Assert.Equal("running", (await cluster.GetAsync(boot, "/v1/vm")).Body.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_node_the_VM_does_not_use_leaves_at_once_and_may_join_again()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        await JoinNodeOneAsync(cluster, boot, JoinBody);

        var left = await cluster.PostAsync(boot, "/v1/cluster/nodes/1/leave", "");
        Assert.Equal(202, left.Status);
        Assert.Equal((1, "left"), (left.Body.GetProperty("id").GetInt32(), left.Body.GetProperty("state").GetString()));
        Assert.Equal("left", (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members")[1].GetProperty("state").GetString());
        Assert.Contains("disconnect 1", effects.Calls);

        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/nodes/1/leave", ""), 409, "node 1 is Left; only a Joining or Active node can leave");
        await JoinNodeOneAsync(cluster, boot, JoinBody);
    }

    [Fact]
    public async Task Leaving_is_refused_for_a_home_of_the_running_VMs_memory_the_boot_node_and_strangers()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await RunningVmOnBootAndNodeOneAsync(cluster);

        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/nodes/1/leave", ""), 409,
            "node 1 runs vCPUs or homes memory of the VM; drain it (memory-only nodes) or stop the VM first");
        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/nodes/0/leave", ""), 409, "node 0 is the boot node: it runs the membership and cannot leave");
        AssertProblem(await cluster.PostAsync(boot, "/v1/cluster/nodes/7/leave", ""), 409, "node 7 is not a member of this cluster");
        Assert.Equal("active", (await cluster.GetAsync(boot, "/v1/cluster")).Body.GetProperty("members")[1].GetProperty("state").GetString());
        Assert.DoesNotContain("disconnect 1", effects.Calls);
        Assert.Equal("running", (await cluster.GetAsync(boot, "/v1/vm")).Body.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Losing_a_memory_home_stops_the_VM_naming_the_node()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await RunningVmOnBootAndNodeOneAsync(cluster);

        effects.LosePeer(1);
        await VmBecomesAsync(cluster, boot, "stopped");
        var vm = (await cluster.GetAsync(boot, "/v1/vm")).Body;
        Assert.Equal("node 1 was lost; it homed guest memory of the VM", vm.GetProperty("reason").GetString());
        Assert.Equal(1, vm.GetProperty("exitCode").GetInt32());
        Assert.Contains(effects.Calls, c => c.StartsWith("stop vm: node 1 was lost"));
    }

    [Fact]
    public async Task Metrics_are_Prometheus_text_with_the_node_figures()
    {
        await using var cluster = new ControlCluster();
        var (boot, _) = await cluster.StartBootAsync();
        var text = await cluster.Http.GetStringAsync(new Uri(boot.HttpUrl, "/metrics"));
        Assert.Contains("# TYPE ssihv_remote_fault_latency_seconds histogram", text);
        Assert.Contains("ssihv_remote_fault_latency_seconds_count{ssihv_node=\"0\"} 10", text);
        Assert.Contains("ssihv_pages_resident{node=\"1\",ssihv_node=\"0\"} 40", text);
        Assert.Contains("ssihv_pages_remote{node=\"1\",ssihv_node=\"0\"} 660", text);
        Assert.Contains("ssihv_pages_stored{ssihv_node=\"0\"} 123", text);
        Assert.Contains("ssihv_peer_bytes_total{peer=\"1\",direction=\"sent\",ssihv_node=\"0\"} 12288", text);
        Assert.Contains("ssihv_peer_bytes_total{peer=\"1\",direction=\"received\",ssihv_node=\"0\"} 20480", text);
        Assert.Contains("ssihv_page_faults_total{kind=\"write_protect\",ssihv_node=\"0\"} 2", text);
        Assert.Contains("ssihv_transport_refusals_total{reason=\"source_share\",ssihv_node=\"0\"} 321", text);
        Assert.Contains("ssihv_transport_refusals_total{reason=\"hello_rejected\",ssihv_node=\"0\"} 4", text);
        Assert.Contains("ssihv_transport_incoming_connections{state=\"unauthenticated\",ssihv_node=\"0\"} 5", text);
        // A second scrape reports the same histogram, not twice the faults.
        var again = await cluster.Http.GetStringAsync(new Uri(boot.HttpUrl, "/metrics"));
        Assert.Contains("ssihv_remote_fault_latency_seconds_count{ssihv_node=\"0\"} 10", again);
    }

    [Fact]
    public async Task Disposing_a_node_host_stops_its_HTTP_API_and_disposes_its_effects()
    {
        var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();
        var url = boot.HttpUrl;
        await cluster.DisposeAsync();
        Assert.True(effects.Disposed);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri(url, "/v1/health")));
    }
}
