namespace SsiHv.Shell.Transport;

/// <summary>
/// What a node does with a peer's Invalidate (docs/transport.md, "Invalidation"): drop its copy of a page that
/// the peer is about to write. Apart from <see cref="IPageService"/>, which serves the pages a node homes: the
/// copies are the running VM's pager's, which comes and goes while the transport lives on.
/// </summary>
public interface IInvalidationService
{
    /// <summary>
    /// Drops this node's copy of <paramref name="page"/> for <paramref name="requester"/>. The task completes
    /// once no copy is left here (the peer is then answered InvalidateAck); it faults, and the peer gets
    /// ErrorReply with the exception's message, when the page is not guest memory here or the copy cannot be
    /// dropped. It may complete on the thread that dropped the copy: whoever awaits it must not block there.
    /// </summary>
    Task InvalidateAsync(ulong page, int requester);
}

/// <summary>
/// The invalidation service of a node that runs no VM: it holds no copy of any page, so every invalidation is
/// acknowledged at once. There is no guest memory to check the page number against either.
/// </summary>
public sealed class HoldsNoCopies : IInvalidationService
{
    public static HoldsNoCopies Instance { get; } = new();

    HoldsNoCopies() { }

    public Task InvalidateAsync(ulong page, int requester) => Task.CompletedTask;
}
