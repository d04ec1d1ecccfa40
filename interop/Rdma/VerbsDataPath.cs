namespace SsiHv.Interop.Rdma;

/// <summary>
/// ibv_post_send, ibv_post_recv and ibv_poll_cq: static inline functions in verbs.h, which call through the
/// provider's function pointers in the context's ops table (`qp->context->ops.post_send(qp, wr, bad_wr)`).
/// Done here exactly so, with the offsets of <see cref="VerbsOffsets"/>.
/// </summary>
public static unsafe class VerbsDataPath
{
    /// Returns 0 or an errno value; on failure `badWr` is the first work request not posted.
    public static int PostSend(nint qp, IbvSendWr* wr, IbvSendWr** badWr)
    {
        var context = *(nint*)(qp + VerbsOffsets.QpContext);
        var postSend = (delegate* unmanaged<nint, IbvSendWr*, IbvSendWr**, int>)*(nint*)(context + VerbsOffsets.ContextPostSend);
        return postSend(qp, wr, badWr);
    }

    public static int PostRecv(nint qp, IbvRecvWr* wr, IbvRecvWr** badWr)
    {
        var context = *(nint*)(qp + VerbsOffsets.QpContext);
        var postRecv = (delegate* unmanaged<nint, IbvRecvWr*, IbvRecvWr**, int>)*(nint*)(context + VerbsOffsets.ContextPostRecv);
        return postRecv(qp, wr, badWr);
    }

    /// The number of completions written to `completions` (0..count), or negative on error.
    public static int PollCq(nint cq, int count, IbvWc* completions)
    {
        var context = *(nint*)(cq + VerbsOffsets.CqContext);
        var pollCq = (delegate* unmanaged<nint, int, IbvWc*, int>)*(nint*)(context + VerbsOffsets.ContextPollCq);
        return pollCq(cq, count, completions);
    }

    public static uint QpNumber(nint qp) => *(uint*)(qp + VerbsOffsets.QpNumber);

    public static uint LocalKey(nint mr) => *(uint*)(mr + VerbsOffsets.MrLocalKey);

    public static uint RemoteKey(nint mr) => *(uint*)(mr + VerbsOffsets.MrRemoteKey);
}
