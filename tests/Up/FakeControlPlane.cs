using System.Net;
using System.Text;

namespace SsiHv.Tests.Up;

/// <summary>
/// Node hosts' control APIs as docs/node-host.md specifies them, served on real sockets by HttpListener, so that
/// `ssihv up`'s supervision and waits can be tested before the node host exists in this branch. Only the nodes
/// in `healthy` answer at all; the boot node reports the VM "running" for `runningPolls` polls, then "stopped".
/// POST /v1/vm without the right Bearer token gets 401, as the real control plane does.
/// </summary>
public sealed class FakeControlPlane : IDisposable
{
    readonly List<HttpListener> listeners = [];
    readonly Dictionary<int, int> httpPortOf;
    readonly int bootNode;
    readonly Func<string?> expectedToken;
    readonly int runningPolls;
    readonly int vmExitCode;
    int vmPolls;

    public FakeControlPlane(IReadOnlyDictionary<int, int> httpPorts, IEnumerable<int> healthy, int bootNode,
        Func<string?> expectedToken, int runningPolls, int vmExitCode = 0)
    {
        httpPortOf = httpPorts.ToDictionary();
        this.bootNode = bootNode;
        this.expectedToken = expectedToken;
        this.runningPolls = runningPolls;
        this.vmExitCode = vmExitCode;
        foreach (var id in healthy)
        {
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{httpPorts[id]}/");
            listener.Start();
            listeners.Add(listener);
            _ = ServeAsync(listener, id);
        }
    }

    public string? VmRequestBody { get; private set; }
    public int UnauthorizedRequests { get; private set; }

    public void Dispose()
    {
        foreach (var listener in listeners)
            listener.Close();
    }

    async Task ServeAsync(HttpListener listener, int id)
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var (status, body) = Answer(id, context.Request);
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = status < 300 ? "application/json" : "application/problem+json";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    (int Status, string Body) Answer(int id, HttpListenerRequest request)
    {
        var route = $"{request.HttpMethod} {request.Url!.AbsolutePath}";
        if (route == "GET /v1/health")
            return (200, $$"""{"status":"ok","node":{{id}}}""");
        if (id != bootNode)
            return Problem(404, "not the boot node", $"ask http://127.0.0.1:{httpPortOf[bootNode]}");
        switch (route)
        {
            case "GET /v1/cluster":
                var members = httpPortOf.Keys.Order().Select(m =>
                    $$"""{"id":{{m}},"cpus":{{(m == bootNode ? 2 : 0)}},"memoryMiB":1024,"address":"127.0.0.1:{{httpPortOf[m] - 1000}}","state":"active"}""");
                return (200, $$$"""{"bootNode":{{{bootNode}}},"members":[{{{string.Join(",", members)}}}],"vm":{"state":"notStarted","reason":null}}""");
            case "POST /v1/vm":
                if (request.Headers["Authorization"] != $"Bearer {expectedToken()}")
                {
                    UnauthorizedRequests++;
                    return Problem(401, "unauthorized", "send Authorization: Bearer <apiToken>");
                }
                using (var reader = new StreamReader(request.InputStream))
                    VmRequestBody = reader.ReadToEnd();
                return (202, """{"state":"starting","reason":null,"exitCode":null}""");
            case "GET /v1/vm":
                if (VmRequestBody is null)
                    return (200, """{"state":"notStarted","reason":null,"exitCode":null}""");
                if (Interlocked.Increment(ref vmPolls) <= runningPolls)
                    return (200, """{"state":"running","reason":null,"exitCode":null}""");
                return vmExitCode == 0
                    ? (200, """{"state":"stopped","reason":"the guest powered off","exitCode":0}""")
                    : (200, $$"""{"state":"stopped","reason":"vCPU 0: KVM_EXIT_INTERNAL_ERROR","exitCode":{{vmExitCode}}}""");
            case "GET /v1/pages":
                return (200, """
                    {"nodes":[{"id":0,"pagesHomed":262144,"pagesStored":0,"pagesResident":131072},
                              {"id":1,"pagesHomed":262144,"pagesStored":200000,"pagesResident":0}],
                     "faults":{"zeroFill":1000,"remoteFetch":5000},
                     "remoteFaultLatencyMicroseconds":{"p50":71.5,"p99":140.25},
                     "peers":[{"node":1,"bytesSent":20480000,"bytesReceived":40960000,"fetches":"RDMA READ over rxe0"}]}
                    """);
            default:
                return Problem(404, "no such route", route);
        }
    }

    static (int, string) Problem(int status, string title, string detail) =>
        (status, $$"""{"type":"about:blank","title":"{{title}}","status":{{status}},"detail":"{{detail}}"}""");
}
