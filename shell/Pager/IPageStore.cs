namespace SsiHv.Shell.Pager;

/// <summary>
/// Where a page's bytes live while no node has it resident: its home node's page store, on this host
/// (<see cref="LocalPageStore"/>) or on another node host over the transport. A local store completes
/// synchronously (a completed ValueTask, nothing allocated); a remote one completes later on a transport thread,
/// and the pager feeds the completion back through its event channel. A failed task (e.g.
/// PeerUnavailableException) means the home is gone: the pager stops the VM with that reason, it never guesses
/// the bytes.
/// </summary>
public interface IPageStore
{
    /// Reads `page` from node `home` into `destination` (4096 bytes the caller keeps alive until completion).
    ValueTask ReadAsync(int home, ulong page, Memory<byte> destination);

    /// Writes the 4096 bytes of `source` as the newest copy of `page` at node `home`.
    ValueTask WriteAsync(int home, ulong page, ReadOnlyMemory<byte> source);
}
