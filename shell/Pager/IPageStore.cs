namespace SsiHv.Shell.Pager;

/// <summary>
/// Where a page's bytes live while no node has it resident: its home node's page store. This store is
/// local; the node-to-node transport puts the same interface in front of other machines.
/// </summary>
public interface IPageStore
{
    void Read(int home, ulong page, Span<byte> destination);
    void Write(int home, ulong page, ReadOnlySpan<byte> source);
}
