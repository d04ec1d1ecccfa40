using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SsiHv.Shell.Control;

/// <summary>
/// Kestrel serving <see cref="ControlApi"/> on the node config's <c>http</c> address only. The node host, not
/// ASP.NET, owns SIGINT/SIGTERM and logging: the web host gets no console lifetime and no log providers.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    readonly WebApplication app;

    ControlServer(WebApplication app, IPEndPoint endpoint)
    {
        this.app = app;
        Endpoint = endpoint;
    }

    /// Where the API listens (the port resolved when the config said 0).
    public IPEndPoint Endpoint { get; }

    public static async Task<ControlServer> StartAsync(
        IPEndPoint listen, ControlIdentity node, ClusterController? controller, INodeStatus status, NodeMetrics metrics,
        CancellationToken cancellation)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NodeHostLifetime>();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(listen);
            kestrel.Limits.MaxRequestLineSize = StatusProblems.KestrelRequestLineLimit;
            // Connections past the limit are closed at once, so a flood of idle ones cannot take every descriptor;
            // idle ones are closed after these timeouts, so the API answers again soon after a flood.
            kestrel.Limits.MaxConcurrentConnections = Core.Cluster.NodeLimits.HttpConnections;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        var app = builder.Build();
        StatusProblems.Use(app);
        ControlApi.Map(app, node, controller, status, metrics);
        try
        {
            await app.StartAsync(cancellation);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var uri = new Uri(address);
        var endpoint = new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
        node.Http = endpoint.ToString();
        return new ControlServer(app, endpoint);
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(StopTimeout))
            await app.StopAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await app.DisposeAsync();
    }

    /// The node host decides when to stop (its own signal handling); the web host only follows.
    sealed class NodeHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
