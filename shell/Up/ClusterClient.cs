using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using SsiHv.Core.Vm;

namespace SsiHv.Shell.Up;

/// <summary>
/// A client of the node hosts' HTTP control API (docs/node-host.md) with the bounded waits that forming a
/// cluster needs: until a node answers its health check, until every member is active, until the VM stops.
/// `ssihv up` uses it, and so can end-to-end tests. Every call and every wait has a time limit; a failure
/// says which URL, what was expected and what was last seen. No proxy is ever used: control traffic stays on
/// the addresses the cluster was given.
/// </summary>
public sealed class ClusterClient : IDisposable
{
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    static readonly TimeSpan StartProgressInterval = TimeSpan.FromSeconds(5);
    /// A guest runs for minutes and its console is on screen meanwhile: a rarer line is enough.
    static readonly TimeSpan VmProgressInterval = TimeSpan.FromSeconds(30);
    readonly HttpClient http;
    readonly Action<string> progress;

    /// <param name="apiToken">the Bearer token of mutating requests</param>
    /// <param name="requestTimeout">limit of one HTTP request</param>
    /// <param name="progress">receives a line now and then while a wait goes on</param>
    public ClusterClient(string apiToken, TimeSpan requestTimeout, Action<string> progress)
    {
        http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = requestTimeout })
        {
            Timeout = requestTimeout,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
        this.progress = progress;
    }

    public void Dispose() => http.Dispose();

    public Task<HealthReply> HealthAsync(Uri node, CancellationToken cancellation) =>
        GetAsync(node, "/v1/health", ClusterApiJsonContext.Default.HealthReply, cancellation);

    public Task<ClusterReply> ClusterAsync(Uri boot, CancellationToken cancellation) =>
        GetAsync(boot, "/v1/cluster", ClusterApiJsonContext.Default.ClusterReply, cancellation);

    public Task<VmReply> VmAsync(Uri boot, CancellationToken cancellation) =>
        GetAsync(boot, "/v1/vm", ClusterApiJsonContext.Default.VmReply, cancellation);

    public Task<PagesReply> PagesAsync(Uri boot, CancellationToken cancellation) =>
        GetAsync(boot, "/v1/pages", ClusterApiJsonContext.Default.PagesReply, cancellation);

    public async Task<VmReply> StartVmAsync(Uri boot, VmRequest request, CancellationToken cancellation)
    {
        var url = new Uri(boot, "/v1/vm");
        using var response = await http.PostAsJsonAsync(url, Control.VmStartRequest.Of(request), Control.ControlJsonContext.Default.VmStartRequest, cancellation);
        return await ReadAsync(url, response, ClusterApiJsonContext.Default.VmReply, cancellation);
    }

    public async Task<VmReply> StopVmAsync(Uri boot, CancellationToken cancellation)
    {
        var url = new Uri(boot, "/v1/vm/stop");
        using var response = await http.PostAsync(url, content: null, cancellation);
        return await ReadAsync(url, response, ClusterApiJsonContext.Default.VmReply, cancellation);
    }

    /// Until the node answers GET /v1/health with status "ok" and the expected node id.
    public Task<HealthReply> WaitHealthyAsync(Uri node, int nodeId, TimeSpan limit, CancellationToken cancellation) =>
        PollAsync($"node {nodeId} at {node} to answer /v1/health", limit, StartProgressInterval, async token =>
        {
            var health = await HealthAsync(node, token);
            if (health.Status == "ok" && health.Node == nodeId)
                return (health, "");
            return (null, $"status \"{health.Status}\", node {health.Node}");
        }, cancellation);

    /// Until GET /v1/cluster lists every node of `ids` as "active".
    public Task<ClusterReply> WaitAllActiveAsync(Uri boot, IReadOnlyCollection<int> ids, TimeSpan limit, CancellationToken cancellation) =>
        PollAsync($"nodes {string.Join(", ", ids)} to be active at {boot}", limit, StartProgressInterval, async token =>
        {
            var cluster = await ClusterAsync(boot, token);
            var states = ids.Select(id => (Id: id, State: cluster.Members.FirstOrDefault(m => m.Id == id)?.State ?? "not a member")).ToList();
            return states.All(s => s.State == "active")
                ? (cluster, "")
                : (null, string.Join(", ", states.Select(s => $"node {s.Id} {s.State}")));
        }, cancellation);

    /// Until GET /v1/vm says "stopped".
    public Task<VmReply> WaitVmStoppedAsync(Uri boot, TimeSpan limit, CancellationToken cancellation) =>
        PollAsync($"the VM at {boot} to stop", limit, VmProgressInterval, async token =>
        {
            var vm = await VmAsync(boot, token);
            return vm.State == "stopped" ? (vm, "") : (null, $"VM {vm.State}");
        }, cancellation);

    /// Calls `attempt` every PollInterval until it returns a value. A refused connection or an error reply
    /// counts as "not yet" (a node host that is still starting); its text becomes the last observation.
    async Task<T> PollAsync<T>(
        string what, TimeSpan limit, TimeSpan progressInterval, Func<CancellationToken, Task<(T? Done, string Observation)>> attempt,
        CancellationToken cancellation) where T : class
    {
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        var observation = "no answer yet";
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            try
            {
                var (done, seen) = await attempt(cancellation);
                if (done is not null)
                    return done;
                observation = seen;
            }
            catch (Exception e) when (e is HttpRequestException or ClusterApiException or JsonException
                                          || (e is TaskCanceledException && !cancellation.IsCancellationRequested))
            {
                observation = e is TaskCanceledException ? "no reply within the request timeout" : e.Message;
            }
            if (clock.Elapsed >= limit)
                throw new ClusterApiException($"gave up waiting for {what} after {limit.TotalSeconds:0.#} s; last seen: {observation}");
            if (clock.Elapsed - lastProgress >= progressInterval)
            {
                lastProgress = clock.Elapsed;
                progress($"still waiting for {what} ({clock.Elapsed.TotalSeconds:0} s): {observation}");
            }
            await Task.Delay(PollInterval, cancellation);
        }
    }

    async Task<T> GetAsync<T>(Uri baseUrl, string path, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        var url = new Uri(baseUrl, path);
        using var response = await http.GetAsync(url, cancellation);
        return await ReadAsync(url, response, type, cancellation);
    }

    static async Task<T> ReadAsync<T>(Uri url, HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellation)
    {
        var body = await response.Content.ReadAsStringAsync(cancellation);
        if (!response.IsSuccessStatusCode)
            throw new ClusterApiException($"{response.RequestMessage?.Method} {url}: {(int)response.StatusCode} {ProblemText(body)}");
        try
        {
            return JsonSerializer.Deserialize(body, type)
                   ?? throw new ClusterApiException($"{url}: expected a JSON object, found null");
        }
        catch (JsonException e)
        {
            throw new ClusterApiException($"{url}: the reply is not the JSON docs/node-host.md describes: {e.Message}");
        }
    }

    static string ProblemText(string body)
    {
        try
        {
            var problem = JsonSerializer.Deserialize(body, ClusterApiJsonContext.Default.ProblemReply);
            if (problem is not null && (problem.Title ?? problem.Detail) is not null)
                return string.Join(": ", new[] { problem.Title, problem.Detail }.Where(t => !string.IsNullOrEmpty(t)));
        }
        catch (JsonException)
        {
            // Not problem+json: show the body itself.
        }
        return body.Length > 300 ? body[..300] + "…" : body;
    }
}
