using System.Net;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport;

/// <summary>
/// How a node's transport listens, authenticates and gives up (docs/transport.md, "TCP transport"). Only the
/// first four are per node; the rest have defaults meant for a LAN and are changed by tests to keep them short.
/// </summary>
public sealed record TransportOptions(int Self, IPEndPoint Listen, ClusterSecret Secret, IPageService Pages)
{
    /// These options with every timeout (request, connect, reconnect window, ping interval and timeout) times
    /// `scale`: node configs' timeoutScale, for node hosts on emulated machines.
    public TransportOptions Scaled(int scale) => scale == 1 ? this : this with
    {
        RequestTimeout = RequestTimeout * scale,
        ConnectTimeout = ConnectTimeout * scale,
        ReconnectWindow = ReconnectWindow * scale,
        PingInterval = PingInterval * scale,
        PingTimeout = PingTimeout * scale,
    };

    /// A request not answered within this fails with PeerUnavailableException (waiting for a free in-flight
    /// place counts against it too).
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// Dialling plus the hello, for outgoing and incoming connections alike.
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// How long a broken connection to a peer is re-dialled before the peer is reported lost.
    public TimeSpan ReconnectWindow { get; init; } = TimeSpan.FromSeconds(5);

    /// Requests in flight to one peer; further callers wait (back-pressure).
    public int MaxInFlightPerPeer { get; init; } = 256;

    /// A connection silent for this long is sent a Ping...
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// ...and one still silent this much later is closed and its peer reported lost.
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// Pins the receive thread of every connection this node dials to this CPU (null: the scheduler places it).
    /// That thread reads the replies and runs what waited for them inline, which for a boot node's pager is the
    /// completion step that installs a fetched page and wakes the vCPU: pinned beside the pager thread, it serves
    /// faults from the pager's CPU, as a single-threaded handler would (docs/transport.md, "Threads").
    public int? ReplyThreadCpu { get; init; }

    /// The RDMA device port the RDMA transport uses (ibv ports count from 1).
    public byte RdmaPort { get; init; } = 1;

    /// The GID table index of that port that routes RoCE traffic (InfiniBand ignores it): 0 is the link-local
    /// RoCE v1 GID; a routed RoCE v2 network needs the index of the interface's IP GID (show_gids lists them).
    public int RdmaGidIndex { get; init; }

    /// Serves peers' Invalidate requests: the node host's routes them to the running VM's pager. The default is a
    /// node that never holds a copy (tests and benchmarks of page traffic alone).
    public IInvalidationService Invalidations { get; init; } = HoldsNoCopies.Instance;

    /// Refusals of incoming connections (evictions, failed hellos, failed accepts) write at most one line per
    /// kind per interval, which counts the ones left unlogged (docs/transport.md, "Admission").
    public TimeSpan RefusalLogInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// One line per event worth a person's attention (connections, refusals, losses); never per request.
    public Action<string> Log { get; init; } = static _ => { };

    /// The largest in-flight limit: the request id keeps the slot in its low 16 bits.
    public const int MaxInFlightLimit = 1 << 16;

    /// Throws ArgumentException naming the option when a value cannot work.
    public void Validate()
    {
        if (Listen.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new ArgumentException($"transport options: Listen: expected an IPv4 address, found {Listen}");
        if (MaxInFlightPerPeer is < 1 or > MaxInFlightLimit)
            throw new ArgumentException($"transport options: MaxInFlightPerPeer: expected 1..{MaxInFlightLimit}, found {MaxInFlightPerPeer}");
        if (RdmaPort < 1)
            throw new ArgumentException($"transport options: RdmaPort: expected 1 or more, found {RdmaPort}");
        if (RdmaGidIndex < 0)
            throw new ArgumentException($"transport options: RdmaGidIndex: expected 0 or more, found {RdmaGidIndex}");
        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(ReconnectWindow, nameof(ReconnectWindow));
        Positive(PingInterval, nameof(PingInterval));
        Positive(PingTimeout, nameof(PingTimeout));
        Positive(RefusalLogInterval, nameof(RefusalLogInterval));
    }

    static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"transport options: {name}: expected a positive duration below 24 days, found {value}");
    }
}
