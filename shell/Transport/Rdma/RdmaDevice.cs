using System.Security.Cryptography;
using SsiHv.Core.Transport;
using SsiHv.Interop.Rdma;

namespace SsiHv.Shell.Transport.Rdma;

/// <summary>
/// One opened RDMA device port as the transport uses it: the context, a protection domain for every memory
/// region and queue pair, the port's LID, GID and MTU, and how a reliable-connected queue pair is taken from
/// RESET to ready-to-send against the other end's <see cref="RdmaEndpoint"/>.
/// </summary>
public sealed class RdmaDevice : IDisposable
{
    /// Outstanding RDMA READs a queue pair may have at the responder (the requester's max_rd_atomic and the
    /// responder's max_dest_rd_atomic): 16 is what current InfiniBand and RoCE adapters offer.
    const byte ReadsInFlight = 16;
    /// Local ACK timeout 4.096 µs * 2^14 ≈ 67 ms, 7 retries: a dead peer fails a READ in about half a second,
    /// well inside the request timeout, as an error completion.
    const byte AckTimeout = 14, Retries = 7, RnrRetries = 7;

    readonly byte port;
    readonly int gidIndex;
    /// Why <see cref="GidIndex"/> is the one it is, for the transport's log.
    public string GidChoice { get; }
    readonly IbvMtu activeMtu;
    readonly bool ethernet;

    /// `ipv4`: the address the node's transport listens on; on RoCE the port's GID for it is used when the port
    /// lists one (core Gid.indexForIPv4), else `gidIndex`.
    public unsafe RdmaDevice(string name, byte port, int gidIndex, byte[]? ipv4 = null)
    {
        this.port = port;
        Name = name;
        Context = DeviceContextHandle.Open(name);
        try
        {
            var attributes = default(IbvPortAttr);
            var error = Ibverbs.QueryPort(Context.DangerousGetHandle(), port, &attributes);
            if (error != 0)
                throw new RdmaException($"ibv_query_port({name}, port {port}) failed: errno {error}");
            if (attributes.State != IbvPortState.Active)
                throw new RdmaException($"RDMA device {name} port {port} is not active (state {(int)attributes.State})");
            activeMtu = attributes.ActiveMtu;
            ethernet = attributes.LinkLayer == IbvLinkLayer.Ethernet;
            Lid = attributes.Lid;
            (this.gidIndex, GidChoice) = ChooseGid(port, attributes.GidTableLength, gidIndex, ipv4);
            var gid = default(IbvGid);
            error = Ibverbs.QueryGid(Context.DangerousGetHandle(), port, this.gidIndex, &gid);
            if (error != 0)
                throw new RdmaException($"ibv_query_gid({name}, port {port}, index {this.gidIndex}) failed: errno {error}");
            Gid = gid;
            ProtectionDomain = new ProtectionDomainHandle(Context);
        }
        catch
        {
            Context.Dispose();
            throw;
        }
    }

    (int Index, string Why) ChooseGid(byte port, int tableLength, int configured, byte[]? ipv4)
    {
        if (!ethernet || ipv4 is null)
            return (configured, $"GID index {configured}");
        var table = new List<Tuple<int, Gid>>();
        for (var index = 0; index < tableLength; index++)
        {
            var entry = default(IbvGid);
            unsafe
            {
                if (Ibverbs.QueryGid(Context.DangerousGetHandle(), port, index, &entry) != 0)
                    continue;
            }
            if (GidModule.tryCreate(entry.ToBytes()) is { IsOk: true } gid)
                table.Add(Tuple.Create(index, gid.ResultValue));
        }
        var found = GidModule.indexForIPv4(Microsoft.FSharp.Collections.ListModule.OfSeq(table), ipv4);
        var address = string.Join('.', ipv4);
        return found is { } chosen
            ? (chosen.Value, $"GID index {chosen.Value} (RoCE v2 for {address})")
            : (configured, $"GID index {configured} (the port lists no GID for {address})");
    }

    public string Name { get; }
    public DeviceContextHandle Context { get; }
    public ProtectionDomainHandle ProtectionDomain { get; }
    public ushort Lid { get; }
    public IbvGid Gid { get; }

    public MemoryRegionHandle Register(nint address, ulong length, IbvAccess access) => new(ProtectionDomain, address, length, access);

    public CompletionQueueHandle CreateCompletionQueue(int entries) => new(Context, entries);

    /// A reliable-connected QP in state INIT (remote READs allowed iff `remoteRead`), and the endpoint the other
    /// end needs to connect to it (a fresh random 24-bit first PSN).
    public (QueuePairHandle Qp, RdmaEndpoint Endpoint) CreateQueuePair(CompletionQueueHandle cq, int sendDepth, bool remoteRead)
    {
        var init = new IbvQpInitAttr
        {
            SendCq = cq.DangerousGetHandle(),
            RecvCq = cq.DangerousGetHandle(),
            Cap = new IbvQpCap { MaxSendWr = (uint)Math.Max(1, sendDepth), MaxRecvWr = 1, MaxSendSge = 1, MaxRecvSge = 1 },
            QpType = IbvQpType.ReliableConnected,
        };
        var qp = new QueuePairHandle(ProtectionDomain, cq, init);
        try
        {
            qp.Modify(new IbvQpAttr
            {
                QpState = IbvQpState.Init,
                PkeyIndex = 0,
                PortNumber = port,
                QpAccessFlags = remoteRead ? IbvAccess.RemoteRead : 0,
            }, IbvQpAttrMask.State | IbvQpAttrMask.PkeyIndex | IbvQpAttrMask.Port | IbvQpAttrMask.AccessFlags);
        }
        catch
        {
            qp.Dispose();
            throw;
        }
        var endpoint = new RdmaEndpoint(qp.Number, (uint)RandomNumberGenerator.GetInt32(1 << 24), Lid,
            GidModule.tryCreate(Gid.ToBytes()).ResultValue, (byte)activeMtu);
        return (qp, endpoint);
    }

    /// INIT → RTR → RTS against the remote end. Throws RdmaException naming the step and the errno.
    public void Connect(QueuePairHandle qp, RdmaEndpoint local, RdmaEndpoint remote)
    {
        var mtu = RdmaRead.pathMtu((byte)activeMtu, remote.Mtu);
        if (mtu.IsError)
            throw new RdmaException(mtu.ErrorValue);
        var readyToReceive = new IbvQpAttr
        {
            QpState = IbvQpState.ReadyToReceive,
            PathMtu = (IbvMtu)mtu.ResultValue,
            DestinationQpNumber = remote.QueuePair,
            ReceivePsn = remote.PacketSequence,
            MaxDestinationReadAtomic = ReadsInFlight,
            MinRnrTimer = 12,
        };
        readyToReceive.AhAttr.DestinationLid = remote.Lid;
        readyToReceive.AhAttr.PortNumber = port;
        // RoCE has no LIDs: the route is the GID's. On InfiniBand the LID suffices within a subnet.
        if (ethernet)
        {
            readyToReceive.AhAttr.IsGlobal = 1;
            readyToReceive.AhAttr.Grh.DestinationGid = IbvGid.FromBytes(GidModule.toArray(remote.Gid));
            readyToReceive.AhAttr.Grh.SourceGidIndex = (byte)gidIndex;
            readyToReceive.AhAttr.Grh.HopLimit = 64;
        }
        qp.Modify(readyToReceive, IbvQpAttrMask.State | IbvQpAttrMask.AddressVector | IbvQpAttrMask.PathMtu
            | IbvQpAttrMask.DestinationQpNumber | IbvQpAttrMask.ReceivePsn | IbvQpAttrMask.MaxDestinationReadAtomic | IbvQpAttrMask.MinRnrTimer);
        qp.Modify(new IbvQpAttr
        {
            QpState = IbvQpState.ReadyToSend,
            Timeout = AckTimeout,
            RetryCount = Retries,
            RnrRetry = RnrRetries,
            SendPsn = local.PacketSequence,
            MaxReadAtomic = ReadsInFlight,
        }, IbvQpAttrMask.State | IbvQpAttrMask.Timeout | IbvQpAttrMask.RetryCount | IbvQpAttrMask.RnrRetry
            | IbvQpAttrMask.SendPsn | IbvQpAttrMask.MaxQpReadAtomic);
    }

    public void Dispose()
    {
        ProtectionDomain.Dispose();
        Context.Dispose();
    }
}
