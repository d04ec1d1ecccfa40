using System.Net;
using System.Net.Sockets;
using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport.Tcp;

/// <summary>
/// A connection a peer dialled to us: the hello (as responder), then its requests served one after another
/// from the page service, each reply written into one reused buffer. An Invalidate is answered when the
/// invalidation service has dropped the copy, which may be later, from another thread: meanwhile this reader
/// serves the peer's next requests. Whatever the peer sends, only this connection ends: a malformed frame gets
/// ErrorReply(malformedFrame) and a close, and is logged with the peer's address; a failed hello a close,
/// counted and logged by kind at most once per interval (IncomingAdmission). Until its hello accepts the peer,
/// the admission may evict it to make room for a newer connection.
/// </summary>
public sealed class IncomingConnection(TcpNodeTransport owner, long admissionId, FrameSocket socket)
{
    readonly byte[] reply = new byte[WireFrame.PageFrameLength];
    string who = socket.Remote.ToString();
    int peer;
    PeerCounters? counters;
    int evicted;

    public IPEndPoint Remote => socket.Remote;
    /// The thread that serves it; the transport joins it when it stops.
    public Thread? Thread { get; set; }

    public void Close() => socket.Close();

    /// Closes it for the admission, which counted and logged it: its hello's end is no news.
    public void Evict()
    {
        Volatile.Write(ref evicted, 1);
        socket.Close();
    }

    /// Runs on the connection's own thread (FrameSocket says why) until the peer or the transport closes it.
    public void Serve()
    {
        try
        {
            if (Hello() is not { } authenticated || !owner.Admission.HelloAccepted(admissionId))
                return;
            peer = authenticated;
            counters = owner.CountersOf(peer);
            socket.Attribute(counters);
            who = $"node {peer} at {socket.Remote}";
            owner.Log($"transport: node {owner.Self}: accepted a connection from {who}");
            socket.ReceiveTimeout = TimeSpan.Zero;
            socket.SendTimeout = owner.Options.RequestTimeout;
            ServeRequests(counters);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer went away, stopped reading, or we are stopping: only this connection ends.
        }
        finally
        {
            socket.Dispose();
        }
    }

    int? Hello()
    {
        try
        {
            return HelloExchange.Run(socket, HelloRole.Responder, owner.Self, owner.Options.Secret, owner.Options.ConnectTimeout);
        }
        catch (HelloFailedException e)
        {
            if (!owner.Stopping.IsCancellationRequested && Volatile.Read(ref evicted) == 0)
                owner.Admission.Refused(e.Kind, $"closed the connection from {who}: {e.Message}");
            return null;
        }
    }

    void ServeRequests(PeerCounters counters)
    {
        while (true)
        {
            var frame = socket.Receive();
            if (frame.IsClosed)
                return;
            if (frame.Malformed is { } error)
            {
                owner.Log($"transport: node {owner.Self}: closed the connection from {who}: malformed frame: {error}");
                socket.TrySend(WireFrame.EncodeError(0, ErrorCodeModule.malformedFrame, error));
                return;
            }
            var length = Serve(frame, out var close);
            socket.Consume(frame);
            if (length > 0)
            {
                socket.Send(reply.AsSpan(0, length));
                Interlocked.Increment(ref counters.RequestsServed);
            }
            if (close)
                return;
        }
    }

    /// Writes the answer to `frame` into `reply`; returns its length (0: nothing to send).
    int Serve(ReceivedFrame frame, out bool close)
    {
        close = false;
        var bytes = socket.Buffer.AsSpan(frame.Offset, frame.Length);
        var id = frame.RequestId;
        switch (frame.Type)
        {
            case WireFrame.FetchPage:
            {
                var page = WireFrame.ReadPageNumber(bytes);
                var destination = WireFrame.WritePageFrameHeader(reply, WireFrame.PageData, id, page);
                try
                {
                    owner.Options.Pages.ReadPage(page, destination);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return ServiceFailed(id, page, "FetchPage", e);
                }
                return WireFrame.PageFrameLength;
            }
            case WireFrame.StorePage:
            {
                var page = WireFrame.ReadPageNumber(bytes);
                bool stored;
                string? refusal;
                try
                {
                    stored = owner.Options.Pages.TryWritePage(page, bytes.Slice(WireFrame.PageOffset, WireFrame.PageLength), out refusal);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return ServiceFailed(id, page, "StorePage", e);
                }
                return stored
                    ? WireFrame.WritePageNumberFrame(reply, WireFrame.Stored, id, page)
                    : WriteError(id, ErrorCodeModule.unsupportedRequest, refusal ?? $"node {owner.Self} did not store page {page} and gave no reason");
            }
            case WireFrame.Invalidate:
                return Invalidate(id, WireFrame.ReadPageNumber(bytes), WireFrame.ReadRequester(bytes));
            case WireFrame.Ping:
                WireFrame.WriteHeader(reply, WireFrame.Pong, id, 0);
                return WireFrame.HeaderLength;
            case WireFrame.Pong:
                return 0;
            default:
                var decoded = socket.Decode(frame);
                if (decoded is Frame.DecodeResult.Malformed malformed)
                {
                    var text = Frame.DecodeErrorModule.text(malformed.Item);
                    owner.Log($"transport: node {owner.Self}: closed the connection from {who}: malformed frame: {text}");
                    close = true;
                    return WriteError(0, ErrorCodeModule.malformedFrame, text);
                }
                var message = ((Frame.DecodeResult.Decoded)decoded).Item1.Message;
                var name = MessageModule.name(message);
                if (owner.SideChannel is { } sideChannel)
                {
                    Message? answer;
                    try
                    {
                        answer = sideChannel.Serve(peer, message);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        owner.Log($"transport: node {owner.Self}: {name} from {who} failed: {e.Message}");
                        return WriteError(id, ErrorCodeModule.unsupportedRequest, $"node {owner.Self} could not serve {name}: {e.Message}");
                    }
                    if (answer is not null)
                    {
                        var answerFrame = WireFrame.Encode(id, answer);
                        answerFrame.CopyTo(reply, 0);
                        return answerFrame.Length;
                    }
                }
                return WriteError(id, ErrorCodeModule.unsupportedRequest, $"node {owner.Self} does not serve {name} requests");
        }
    }

    /// Invalidate: answered now when the service is done at once (a node without a VM), else by
    /// <see cref="AnswerInvalidateLaterAsync"/> (0: nothing to send now).
    int Invalidate(ulong id, ulong page, int requester)
    {
        // The acknowledgement goes back to the peer on this connection whoever is named: a peer may only
        // invalidate for itself, or a writer could be told "no copy left" on another node's behalf.
        if (requester != peer)
            return WriteError(id, ErrorCodeModule.unsupportedRequest, $"node {peer} sent Invalidate of page {page} for node {requester}: a node invalidates only for itself");
        Task dropped;
        try
        {
            dropped = owner.Options.Invalidations.InvalidateAsync(page, requester);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            dropped = Task.FromException(e);
        }
        if (dropped.IsCompleted)
            return dropped.IsCompletedSuccessfully
                ? WireFrame.WritePageNumberFrame(reply, WireFrame.InvalidateAck, id, page)
                : InvalidateRefused(id, page, dropped.Exception!.InnerException!);
        _ = AnswerInvalidateLaterAsync(dropped, id, page);
        return 0;
    }

    /// The pager drops the copy on its own pipeline. The wait is bounded by the request timeout: the requester
    /// gives up then, so a later answer would be useless. The answer is sent from a thread-pool thread, never
    /// from the thread that completed `dropped` (the pager's, which must not wait on a socket); FrameSocket's
    /// send lock keeps it whole among the reader's replies.
    async Task AnswerInvalidateLaterAsync(Task dropped, ulong id, ulong page)
    {
        byte[] answer;
        try
        {
            await dropped.WaitAsync(owner.Options.RequestTimeout, owner.Stopping).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            answer = new byte[WireFrame.PageNumberFrameLength];
            WireFrame.WritePageNumberFrame(answer, WireFrame.InvalidateAck, id, page);
        }
        catch (OperationCanceledException) when (owner.Stopping.IsCancellationRequested)
        {
            return; // the transport is stopping: the connection closes and the requester's request fails with it
        }
        catch (TimeoutException)
        {
            var text = $"node {owner.Self} did not drop its copy of page {page} within the request timeout ({owner.Options.RequestTimeout.TotalSeconds:0.###} s)";
            owner.Log($"transport: node {owner.Self}: Invalidate from {who}: {text}");
            answer = WireFrame.EncodeError(id, ErrorCodeModule.unsupportedRequest, text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            answer = RefusalOf(id, page, e);
        }
        try
        {
            socket.Send(answer);
            Interlocked.Increment(ref counters!.RequestsServed);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The connection ended meanwhile: the requester's request failed with it.
        }
    }

    int InvalidateRefused(ulong id, ulong page, Exception e)
    {
        var frame = RefusalOf(id, page, e);
        frame.CopyTo(reply, 0);
        return frame.Length;
    }

    byte[] RefusalOf(ulong id, ulong page, Exception e)
    {
        owner.Log($"transport: node {owner.Self}: refused Invalidate of page {page} from {who}: {e.Message}");
        return WireFrame.EncodeError(id, ErrorCodeModule.unsupportedRequest, $"node {owner.Self} could not invalidate page {page}: {e.Message}");
    }

    /// The page service is the node's own code, but a fault in it must not end the node host: the requester
    /// gets the exception's text as ErrorReply.
    int ServiceFailed(ulong id, ulong page, string what, Exception e)
    {
        owner.Log($"transport: node {owner.Self}: the page service failed {what} of page {page} for {who}: {e.Message}");
        return WriteError(id, ErrorCodeModule.unsupportedRequest, $"node {owner.Self} could not serve {what} of page {page}: {e.Message}");
    }

    int WriteError(ulong id, ushort code, string text)
    {
        var frame = WireFrame.EncodeError(id, code, text);
        frame.CopyTo(reply, 0);
        return frame.Length;
    }
}
