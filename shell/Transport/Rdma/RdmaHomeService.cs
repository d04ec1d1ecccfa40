using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// The home side of RDMA fetches, served on the authenticated TCP connections peers dial: RdmaConnect gets a
/// queue pair connected to the peer's and the address and rkey of the page slots and their version words
/// (registered once, for remote READ only); LocatePage gets the page's slot. After that, the peer's fetches are
/// RDMA READs that never reach this CPU. A page service without registered memory refuses RdmaConnect, and the
/// peer fetches over TCP.
/// </summary>
public sealed class RdmaHomeService(RdmaDevice device, IPageService pages, int self) : ISideChannelService, IDisposable
{
    readonly IRegisteredPageMemory? memory = pages as IRegisteredPageMemory;
    readonly object gate = new();
    readonly Dictionary<int, (QueuePairHandle Qp, CompletionQueueHandle Cq)> peers = [];
    MemoryRegionHandle? pageRegion, versionRegion;
    bool disposed;

    public Message? Serve(int peer, Message request) => request switch
    {
        Message.RdmaConnect connect => Connect(peer, connect.Item),
        Message.LocatePage locate => memory is null
            ? Refuse($"node {self}'s page service has no registered memory")
            : Message.NewPageLocation(locate.Item, memory.SlotOf(locate.Item.Value)),
        _ => null,
    };

    static Message Refuse(string text) => Message.NewErrorReply(ErrorCodeModule.unsupportedRequest, ErrorTextModule.ofString(text));

    Message Connect(int peer, RdmaEndpoint requester)
    {
        if (memory is null)
            return Refuse($"node {self}'s page service has no registered memory; fetch over TCP");
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            // Registering pins the whole store (no on-demand paging): done once, on the first peer's request.
            pageRegion ??= device.Register(memory.PagesAddress, memory.PagesLength, IbvAccess.RemoteRead);
            versionRegion ??= device.Register(memory.VersionsAddress, memory.VersionsLength, IbvAccess.RemoteRead);
            // A peer connects again after its side broke: its old queue pair is of no use any more.
            if (peers.Remove(peer, out var old))
                Destroy(old);
            // The home only answers READs: its queue pair never posts, so one send and completion entry suffice.
            var cq = device.CreateCompletionQueue(1);
            try
            {
                var (qp, endpoint) = device.CreateQueuePair(cq, sendDepth: 1, remoteRead: true);
                try
                {
                    device.Connect(qp, endpoint, requester);
                }
                catch
                {
                    qp.Dispose();
                    throw;
                }
                peers[peer] = (qp, cq);
                return Message.NewRdmaAccept(endpoint,
                    new RdmaRegion((ulong)memory.PagesAddress, pageRegion.RemoteKey, memory.PagesLength),
                    new RdmaRegion((ulong)memory.VersionsAddress, versionRegion.RemoteKey, memory.VersionsLength));
            }
            catch
            {
                cq.Dispose();
                throw;
            }
        }
    }

    static void Destroy((QueuePairHandle Qp, CompletionQueueHandle Cq) pair)
    {
        pair.Qp.Dispose();
        pair.Cq.Dispose();
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            foreach (var (_, pair) in peers)
                Destroy(pair);
            peers.Clear();
            pageRegion?.Dispose();
            versionRegion?.Dispose();
        }
    }
}
