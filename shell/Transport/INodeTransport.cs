namespace SsiHv.Shell.Transport;

/// <summary>
/// The node-to-node transport (docs/design.md §4.6, docs/transport.md) as the rest of the shell sees it: requests to
/// peers by node id, many in flight at once, each answered or failed within its timeout. Connections are dialled
/// on first use (or by <see cref="ConnectAsync"/>), authenticated by the hello, and re-dialled after a failure.
/// Incoming requests are served by the <see cref="IPageService"/> the transport was created with, invalidations
/// by its <see cref="IInvalidationService"/>.
/// </summary>
public interface INodeTransport : IAsyncDisposable
{
    /// This node's id (the hello's node id).
    int Self { get; }

    /// Where this transport accepts connections (the port is resolved when the configuration said 0).
    System.Net.IPEndPoint ListenEndpoint { get; }

    /// Records (or changes) the transport address of a peer; nothing is dialled yet.
    void SetPeer(int node, string address);

    /// Dials the peer and completes the hello now. Throws <see cref="PeerUnavailableException"/> naming the node,
    /// its address and why (refused, timed out, hello rejected).
    Task ConnectAsync(int node, CancellationToken cancellation);

    /// Closes the connection to a peer and forgets it; its pending requests fail with PeerUnavailableException.
    void RemovePeer(int node);

    /// Reads the 4096 bytes of `page` from its home `node` into `destination`. Throws PeerUnavailableException
    /// (connection lost and not re-established, or no reply within the request timeout) or
    /// <see cref="PeerRefusedException"/> (the peer answered ErrorReply).
    ValueTask FetchPageAsync(int node, ulong page, Memory<byte> destination, CancellationToken cancellation = default);

    /// Stores the 4096 bytes of `page` at `node`; completes when the peer answered Stored. Same failures as fetch.
    ValueTask StorePageAsync(int node, ulong page, ReadOnlyMemory<byte> source, CancellationToken cancellation = default);

    /// Asks `node` to drop its copy of `page` because this node is about to write it (Invalidate(page, Self));
    /// completes when the peer answered InvalidateAck, i.e. it holds no copy any more. Same failures as fetch.
    ValueTask InvalidatePageAsync(int node, ulong page, CancellationToken cancellation = default);

    /// Raised (on a transport thread) when a connected peer is gone for good: the connection broke and could not
    /// be re-established within the reconnect window, or it stopped answering pings. Arguments: node, reason.
    event Action<int, string>? PeerLost;

    /// Bytes moved per peer so far (frames included).
    IReadOnlyList<PeerTraffic> Traffic();

    /// Incoming connections and what was refused (docs/transport.md, "Admission").
    IncomingStats Incoming();
}

/// <summary>
/// Bytes and requests exchanged with one peer, and how fetches from it travel (`Fetches`): "TCP", or the RDMA
/// path ("RDMA READ over rxe0") once it is built, or TCP with the reason RDMA cannot be used.
/// </summary>
public readonly record struct PeerTraffic(int Node, long BytesSent, long BytesReceived, long RequestsSent, long RequestsServed, string Fetches);

/// <summary>What a node does with the requests peers send it: the pages it homes.</summary>
public interface IPageService
{
    /// FetchPage: the newest bytes of a page this node homes (zeroes if it never stored it).
    void ReadPage(ulong page, Span<byte> destination);

    /// StorePage: keep these bytes as the page's newest copy. False with a reason a person can act on when the
    /// node cannot (e.g. it homes more pages than its memoryMiB allows); the peer gets ErrorReply with it.
    bool TryWritePage(ulong page, ReadOnlySpan<byte> source, out string? refusal);
}

public class TransportException(string message, Exception? inner = null) : Exception(message, inner);

/// The peer could not be reached, broke the connection, or did not answer in time.
public sealed class PeerUnavailableException(int node, string message, Exception? inner = null)
    : TransportException(message, inner)
{
    public int Node { get; } = node;
}

/// The peer answered a request with ErrorReply.
public sealed class PeerRefusedException(int node, string message) : TransportException(message)
{
    public int Node { get; } = node;
}

/// <summary>
/// Incoming connections now, by whether their hello accepted the peer, and the refusals so far by kind (the
/// labels of core IncomingRefusal: evictions and refusals by the admission, failed hellos, failed accepts).
/// </summary>
public sealed record IncomingStats(int Authenticated, int Unauthenticated, IReadOnlyDictionary<string, long> Refusals);
