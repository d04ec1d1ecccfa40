namespace SsiHv.Shell.Transport;

/// <summary>
/// A page service whose pages peers may read with one-sided RDMA READs (docs/transport.md, "RDMA"): fixed
/// 4096-byte slots in one mapping, a slot per stored page that never changes once given, and an 8-byte version
/// word per slot that a store makes odd before it writes the slot and even after (a sequence lock, so a reader
/// that did not go through the home's lock can tell a whole page from a torn one: core RdmaRead.isConsistent).
/// The TCP transport does not use it.
/// </summary>
public interface IRegisteredPageMemory
{
    /// Where the slots are: slot s is the 4096 bytes at PagesAddress + s * 4096.
    nint PagesAddress { get; }
    ulong PagesLength { get; }

    /// Where the version words are: slot s's is the little-endian u64 at VersionsAddress + s * 8.
    nint VersionsAddress { get; }
    ulong VersionsLength { get; }

    /// The slot holding the page, or -1 when it was never stored (it reads as zeroes).
    long SlotOf(ulong page);
}
