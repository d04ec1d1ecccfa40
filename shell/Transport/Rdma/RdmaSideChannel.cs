using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Paging;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// A peer path's TCP side channel to the home (dialled, hello as for any connection): one request at a time, it
/// sets up the queue pair (RdmaConnect) and answers slot lookups (LocatePage), cached because a slot never changes.
/// A closed, malformed or silent channel breaks the whole path (<c>breakPath</c>, which returns the reason that
/// stands).
/// </summary>
sealed class RdmaSideChannel(FrameSocket control, TransportOptions options, int node, IPEndPoint address, Func<string, string> breakPath)
    : IDisposable
{
    readonly object gate = new();
    readonly ConcurrentDictionary<ulong, long> slots = new();
    ulong sequence;

    /// Tells the home our queue pair and learns its own, with its registered slots and version words.
    public Message.RdmaAccept Connect(RdmaEndpoint local)
    {
        var answer = Request(Message.NewRdmaConnect(local));
        return answer as Message.RdmaAccept ?? throw Refused("RdmaConnect", answer);
    }

    public bool TryCachedSlot(ulong page, out long slot) => slots.TryGetValue(page, out slot);

    /// The page's slot in the home's registered pages, or a negative number when the home never stored it; a
    /// blocking round trip. Only slots are cached: a page never stored may be stored later.
    public long Locate(ulong page)
    {
        var answer = Request(Message.NewLocatePage(PageNumber.NewPageNumber(page)));
        if (answer is not Message.PageLocation location || location.Item1.Value != page)
            throw Refused($"LocatePage of page {page}", answer);
        if (location.slot >= 0)
            slots[page] = location.slot;
        return location.slot;
    }

    Message Request(Message request)
    {
        lock (gate)
        {
            var id = ++sequence;
            try
            {
                control.Send(WireFrame.Encode(id, request));
                control.ReceiveTimeout = options.RequestTimeout;
                while (true)
                {
                    var frame = control.Receive();
                    if (frame.IsClosed || frame.Malformed is not null)
                        throw Unavailable(breakPath(frame.IsClosed ? "the side channel was closed by the peer" : $"malformed frame on the side channel: {frame.Malformed}"));
                    var decoded = control.Decode(frame);
                    control.Consume(frame);
                    if (decoded is Frame.DecodeResult.Decoded { Item1: var envelope } && envelope.RequestId == id)
                        return envelope.Message;
                }
            }
            catch (SocketException e)
            {
                var reason = e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock
                    ? $"no answer to {MessageModule.name(request)} within the request timeout ({options.RequestTimeout.TotalSeconds:0.###} s)"
                    : $"the side channel broke: {e.Message}";
                breakPath(reason);
                throw Unavailable(reason, e);
            }
        }
    }

    Exception Refused(string what, Message answer) => answer is Message.ErrorReply error
        ? new PeerRefusedException(node, $"node {node} at {address} refused {what}: {ErrorTextModule.value(error.Item2)}")
        : Unavailable($"answered {what} with {MessageModule.name(answer)}");

    PeerUnavailableException Unavailable(string what, Exception? inner = null) => AuthenticatedDial.Unavailable(node, address, what, inner);

    public void Dispose() => control.Dispose();
}
