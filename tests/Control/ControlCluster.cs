using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.FSharp.Core;
using SsiHv.Core.Cluster;
using SsiHv.Shell.Control;
using SsiHv.Shell.Nodes;
using Xunit;

namespace SsiHv.Tests.Control;

/// <summary>Real node hosts on 127.0.0.1 (ports chosen by the kernel) with recording effects, and an HTTP client for them.</summary>
public sealed class ControlCluster : IAsyncDisposable
{
    public const string Token = "test-token-0123456789";
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    static readonly NodeHostTimeouts Timeouts = new(
        new ControlTimeouts(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)),
        new JoinClient.Retry(TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)));

    readonly List<NodeHost> hosts = [];
    public readonly List<string> Log = [];
    public HttpClient Http { get; } = new() { Timeout = Patience };

    /// A node config file's record as read: the boot node's when <paramref name="join"/> is null.
    public static NodeConfig.RawNodeConfig RawConfig(
        int id, int cpus, long memoryMiB, string? join, int? initiator = null, string token = Token, string? imageDirectory = null,
        int? memberRetentionSeconds = null) =>
        new(Some(id), Some($"127.0.0.1:{7200 + id}"), Some("127.0.0.1:0"), Some("00112233445566778899aabbccddeeff"), Some(token),
            Some(cpus), Some(memoryMiB), initiator is { } i ? Some(i) : null, join is null ? Some(true) : null,
            join is null ? null : Some(join), null, null, null, null, null, imageDirectory is null ? null : Some(imageDirectory),
            memberRetentionSeconds is { } r ? Some(r) : null);

    public static NodeConfig.NodeConfig Config(
        int id, int cpus, long memoryMiB, string? join, int? initiator = null, string token = Token, string? imageDirectory = null,
        int? memberRetentionSeconds = null)
    {
        var validated = NodeConfig.validate(RawConfig(id, cpus, memoryMiB, join, initiator, token, imageDirectory, memberRetentionSeconds));
        Assert.True(validated.IsOk, validated.IsError ? string.Join("; ", validated.ErrorValue.Select(NodeConfig.errorText)) : "");
        return validated.ResultValue;
    }

    static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);

    public async Task<NodeHost> StartAsync(
        NodeConfig.NodeConfig config, IClusterEffects effects, JoinClient.Retry? join = null, Core.Topology.Topology? template = null)
    {
        var timeouts = join is null ? Timeouts : Timeouts with { Join = join };
        var host = new NodeHost(config, template, effects, new FixedNodeStatus(), line => { lock (Log) Log.Add($"node {config.Id}: {line}"); }, timeouts);
        hosts.Add(host);
        using var timeout = new CancellationTokenSource(Patience);
        await host.StartAsync(timeout.Token);
        return host;
    }

    public async Task<(NodeHost Boot, RecordingEffects Effects)> StartBootAsync(int cpus = 2, long memoryMiB = 1024, string? imageDirectory = null)
    {
        var effects = new RecordingEffects();
        return (await StartAsync(Config(0, cpus, memoryMiB, null, imageDirectory: imageDirectory), effects), effects);
    }

    public async Task<(int Status, string ContentType, JsonElement Body)> GetAsync(NodeHost host, string path)
    {
        using var response = await Http.GetAsync(new Uri(host.HttpUrl, path));
        return await Read(response);
    }

    public Task<(int Status, string ContentType, JsonElement Body)> PostAsync(NodeHost host, string path, string? body, string? token = Token) =>
        SendAsync(host, HttpMethod.Post, path, Encoding.UTF8.GetBytes(body ?? ""), "application/json", token);

    /// Any request, with the body's bytes exactly as given and any content type (none when null).
    public async Task<(int Status, string ContentType, JsonElement Body)> SendAsync(
        NodeHost host, HttpMethod method, string path, byte[] body, string? contentType, string? token = Token)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(method, new Uri(host.HttpUrl, path)) { Content = content };
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request);
        return await Read(response);
    }

    static async Task<(int, string, JsonElement)> Read(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var type = response.Content.Headers.ContentType?.MediaType ?? "";
        var body = type.Contains("json") ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return ((int)response.StatusCode, type, body);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(hosts))
            await host.DisposeAsync();
        hosts.Clear();
        Http.Dispose();
    }
}
