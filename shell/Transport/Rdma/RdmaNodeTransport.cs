using System.Collections.Concurrent;
using System.Net;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// The RDMA verbs transport (docs/transport.md, "RDMA"). Everything but the fetch's data is the TCP transport's:
/// the listener, the hello, StorePage (so the home's page service decides, and may refuse), Invalidate (the
/// peer's pager answers it, a two-sided exchange by nature), timeouts, keep-alive,
/// reconnect, PeerLost and Traffic; the TCP transport also serves the RDMA side channel (<see cref="RdmaHomeService"/>).
/// FetchPage is one-sided: per home an <see cref="RdmaPeerPath"/> reads the page's slot with fenced RDMA READs.
/// A home whose page service has no registered memory, or a path that cannot be built because the peer has no
/// RDMA, is fetched from over TCP (logged once per peer); a fetch whose path broke is retried over TCP (logged),
/// and the next fetch builds a new path.
/// </summary>
public sealed class RdmaNodeTransport : INodeTransport
{
    readonly TcpNodeTransport tcp;
    readonly RdmaDevice device;
    readonly RdmaHomeService home;
    readonly ConcurrentDictionary<int, PeerRoute> routes = new();
    int disposed;

    /// Per peer: its address, and its RDMA path once built (or why fetches to it go over TCP).
    sealed class PeerRoute(IPEndPoint address)
    {
        public readonly IPEndPoint Address = address;
        public readonly SemaphoreSlim Building = new(1, 1);
        public RdmaPeerPath? Path;
        public string? TcpOnly;
    }

    public RdmaNodeTransport(TransportOptions options, string deviceName)
    {
        options.Validate();
        device = new RdmaDevice(deviceName, options.RdmaPort, options.RdmaGidIndex,
            options.Listen.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? options.Listen.Address.GetAddressBytes() : null);
        home = new RdmaHomeService(device, options.Pages, options.Self);
        try
        {
            tcp = new TcpNodeTransport(options, home);
        }
        catch
        {
            home.Dispose();
            device.Dispose();
            throw;
        }
        tcp.PeerLost += (node, reason) =>
        {
            Drop(node);
            PeerLost?.Invoke(node, reason);
        };
        Options = options;
        options.Log($"transport: node {Self}: RDMA fetches over {deviceName} port {options.RdmaPort} (LID {device.Lid}, {device.GidChoice}); everything else over TCP");
    }

    public TransportOptions Options { get; }
    public int Self => tcp.Self;
    public IPEndPoint ListenEndpoint => tcp.ListenEndpoint;
    public event Action<int, string>? PeerLost;

    public void SetPeer(int node, string address)
    {
        tcp.SetPeer(node, address);
        var endpoint = PeerAddress.Parse(address);
        if (routes.TryGetValue(node, out var existing) && existing.Address.Equals(endpoint))
            return;
        routes[node] = new PeerRoute(endpoint);
        existing?.Path?.Dispose();
    }

    public void RemovePeer(int node)
    {
        tcp.RemovePeer(node);
        if (routes.TryRemove(node, out var route))
            route.Path?.Dispose();
    }

    public Task ConnectAsync(int node, CancellationToken cancellation) => tcp.ConnectAsync(node, cancellation);

    public async ValueTask FetchPageAsync(int node, ulong page, Memory<byte> destination, CancellationToken cancellation = default)
    {
        if (destination.Length < WireFrame.PageLength)
            throw new ArgumentException($"FetchPageAsync: the destination holds {destination.Length} bytes, a page is {WireFrame.PageLength}", nameof(destination));
        if (await PathOf(node, cancellation) is { } path)
        {
            try
            {
                if (await path.TryFetchAsync(page, destination, cancellation))
                    return;
            }
            catch (PeerUnavailableException e) when (path.IsBroken)
            {
                // The RDMA path broke (a READ went unanswered), not necessarily the home: the TCP link, whose own
                // timeouts and keep-alive decide whether the home is lost, fetches this page; the next fetch
                // builds a new path.
                Options.Log($"transport: node {Self}: page {page} from node {node} over TCP: {e.Message}");
            }
        }
        // No RDMA to this home, a broken path, or every READ met a store in progress: the home copies the page
        // under its lock.
        await tcp.FetchPageAsync(node, page, destination, cancellation);
    }

    public ValueTask StorePageAsync(int node, ulong page, ReadOnlyMemory<byte> source, CancellationToken cancellation = default) =>
        tcp.StorePageAsync(node, page, source, cancellation);

    public ValueTask InvalidatePageAsync(int node, ulong page, CancellationToken cancellation = default) =>
        tcp.InvalidatePageAsync(node, page, cancellation);

    /// The live path, one built now (one build shared by concurrent fetches), or null: fetch over TCP.
    async ValueTask<RdmaPeerPath?> PathOf(int node, CancellationToken cancellation)
    {
        if (!routes.TryGetValue(node, out var route))
            throw new PeerUnavailableException(node, $"node {node}: no transport address (SetPeer was not called, or RemovePeer removed it)");
        if (route.Path is { IsBroken: false } live)
            return live;
        if (route.TcpOnly is not null)
            return null;
        if (!await route.Building.WaitAsync(Options.ConnectTimeout + Options.RequestTimeout, cancellation))
            throw new PeerUnavailableException(node, $"node {node} at {route.Address}: the RDMA path was not built within the connect and request timeouts");
        try
        {
            if (route.Path is { IsBroken: false } built)
                return built;
            route.Path?.Dispose();
            route.Path = null;
            // The TCP connection first: its keep-alive and reconnect window are what report the home lost, and
            // one-sided READs alone would never notice a silent home between fetches.
            await tcp.ConnectAsync(node, cancellation);
            try
            {
                route.Path = await Task.Factory.StartNew(() => RdmaPeerPath.Open(device, Options, node, route.Address, tcp.CountersOf(node)),
                    cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                return route.Path;
            }
            catch (Exception e) when (e is PeerRefusedException or Interop.Rdma.RdmaException)
            {
                // The home serves pages but not over RDMA (no device, no registered memory), or our queue pair
                // cannot reach its: that will not change while the peer keeps its address.
                route.TcpOnly = e.Message;
                Options.Log($"transport: node {Self}: fetching from node {node} over TCP: {e.Message}");
                return null;
            }
        }
        finally
        {
            route.Building.Release();
        }
    }

    void Drop(int node)
    {
        if (routes.TryGetValue(node, out var route) && route.Path is { } path)
        {
            route.Path = null;
            path.Dispose();
        }
    }

    public IncomingStats Incoming() => tcp.Incoming();

    public IReadOnlyList<PeerTraffic> Traffic() =>
        tcp.Traffic().Select(t => t with { Fetches = FetchPath(t.Node) }).ToList();

    string FetchPath(int node) =>
        !routes.TryGetValue(node, out var route) ? "TCP"
        : route.Path is { IsBroken: false } ? $"RDMA READ over {device.Name}"
        : route.TcpOnly is { } reason ? $"TCP (no RDMA path: {reason})"
        : "TCP (no RDMA fetch yet)";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        await tcp.DisposeAsync();
        foreach (var (_, route) in routes)
            route.Path?.Dispose();
        home.Dispose();
        device.Dispose();
    }
}
