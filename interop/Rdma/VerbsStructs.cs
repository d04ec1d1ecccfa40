using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

// The verbs.h structs the transport fills or reads, field for field. Every size and offset here is checked
// against the installed infiniband/verbs.h by tests/Interop/VerbsAbiTests.cs (a C program compiled at test time).

/// struct ibv_sge: one scatter/gather element.
[StructLayout(LayoutKind.Sequential)]
public struct IbvSge
{
    public ulong Address;
    public uint Length;
    public uint LocalKey;
}

/// struct ibv_send_wr (128 bytes). Only the `wr.rdma` member of the wr union is used: remote address and rkey.
[StructLayout(LayoutKind.Explicit, Size = 128)]
public unsafe struct IbvSendWr
{
    [FieldOffset(0)] public ulong WorkRequestId;
    [FieldOffset(8)] public IbvSendWr* Next;
    [FieldOffset(16)] public IbvSge* ScatterGatherList;
    [FieldOffset(24)] public int ScatterGatherCount;
    [FieldOffset(28)] public IbvWrOpcode Opcode;
    [FieldOffset(32)] public IbvSendFlags SendFlags;
    [FieldOffset(36)] public uint ImmediateData;
    [FieldOffset(40)] public ulong RemoteAddress;
    [FieldOffset(48)] public uint RemoteKey;
}

/// struct ibv_recv_wr.
[StructLayout(LayoutKind.Sequential)]
public unsafe struct IbvRecvWr
{
    public ulong WorkRequestId;
    public IbvRecvWr* Next;
    public IbvSge* ScatterGatherList;
    public int ScatterGatherCount;
}

/// struct ibv_wc: one completion.
[StructLayout(LayoutKind.Sequential)]
public struct IbvWc
{
    public ulong WorkRequestId;
    public IbvWcStatus Status;
    public int Opcode;
    public uint VendorError;
    public uint ByteLength;
    public uint ImmediateData;
    public uint QueuePairNumber;
    public uint SourceQueuePair;
    public uint Flags;
    public ushort PkeyIndex;
    public ushort SourceLid;
    public byte ServiceLevel;
    public byte DlidPathBits;
}

/// struct ibv_qp_cap.
[StructLayout(LayoutKind.Sequential)]
public struct IbvQpCap
{
    public uint MaxSendWr;
    public uint MaxRecvWr;
    public uint MaxSendSge;
    public uint MaxRecvSge;
    public uint MaxInlineData;
}

/// struct ibv_qp_init_attr.
[StructLayout(LayoutKind.Sequential)]
public struct IbvQpInitAttr
{
    public nint QpContext;
    public nint SendCq;
    public nint RecvCq;
    public nint Srq;
    public IbvQpCap Cap;
    public IbvQpType QpType;
    public int SqSigAll;
}

/// union ibv_gid: 16 raw bytes, 8-byte aligned (its other member is two __be64), which makes ibv_qp_attr 144 bytes.
[StructLayout(LayoutKind.Sequential)]
public struct IbvGid
{
    public ulong SubnetPrefix;
    public ulong InterfaceId;

    public static IbvGid FromBytes(ReadOnlySpan<byte> raw16) => MemoryMarshal.Read<IbvGid>(raw16);

    public readonly byte[] ToBytes()
    {
        var bytes = new byte[16];
        MemoryMarshal.Write(bytes, in this);
        return bytes;
    }
}

/// struct ibv_global_route (the GRH part of an address vector: RoCE needs it).
[StructLayout(LayoutKind.Sequential)]
public struct IbvGlobalRoute
{
    public IbvGid DestinationGid;
    public uint FlowLabel;
    public byte SourceGidIndex;
    public byte HopLimit;
    public byte TrafficClass;
}

/// struct ibv_ah_attr.
[StructLayout(LayoutKind.Sequential)]
public struct IbvAhAttr
{
    public IbvGlobalRoute Grh;
    public ushort DestinationLid;
    public byte ServiceLevel;
    public byte SourcePathBits;
    public byte StaticRate;
    public byte IsGlobal;
    public byte PortNumber;
}

/// struct ibv_qp_attr.
[StructLayout(LayoutKind.Sequential)]
public struct IbvQpAttr
{
    public IbvQpState QpState;
    public IbvQpState CurrentQpState;
    public IbvMtu PathMtu;
    public int PathMigrationState;
    public uint Qkey;
    public uint ReceivePsn;
    public uint SendPsn;
    public uint DestinationQpNumber;
    public IbvAccess QpAccessFlags;
    public IbvQpCap Cap;
    public IbvAhAttr AhAttr;
    public IbvAhAttr AlternateAhAttr;
    public ushort PkeyIndex;
    public ushort AlternatePkeyIndex;
    public byte EnableSqdAsyncNotify;
    public byte SqDraining;
    public byte MaxReadAtomic;
    public byte MaxDestinationReadAtomic;
    public byte MinRnrTimer;
    public byte PortNumber;
    public byte Timeout;
    public byte RetryCount;
    public byte RnrRetry;
    public byte AlternatePortNumber;
    public byte AlternateTimeout;
    public uint RateLimit;
}

/// struct ibv_port_attr (the fields up to link_layer are the _compat prefix the exported ibv_query_port fills).
[StructLayout(LayoutKind.Sequential)]
public struct IbvPortAttr
{
    public IbvPortState State;
    public IbvMtu MaxMtu;
    public IbvMtu ActiveMtu;
    public int GidTableLength;
    public uint PortCapabilityFlags;
    public uint MaxMessageSize;
    public uint BadPkeyCounter;
    public uint QkeyViolationCounter;
    public ushort PkeyTableLength;
    public ushort Lid;
    public ushort SmLid;
    public byte Lmc;
    public byte MaxVlNumber;
    public byte SmSl;
    public byte SubnetTimeout;
    public byte InitTypeReply;
    public byte ActiveWidth;
    public byte ActiveSpeed;
    public byte PhysicalState;
    public IbvLinkLayer LinkLayer;
    public byte Flags;
    public ushort PortCapabilityFlags2;
}

/// Offsets into verbs objects the library allocates (we never allocate these, only read a field or a function
/// pointer): struct ibv_context's ops table, struct ibv_qp, struct ibv_cq, struct ibv_mr.
public static class VerbsOffsets
{
    /// offsetof(struct ibv_context, ops.poll_cq / ops.post_send / ops.post_recv).
    public const int ContextPollCq = 96, ContextPostSend = 208, ContextPostRecv = 216;
    /// offsetof(struct ibv_qp, context), offsetof(struct ibv_cq, context).
    public const int QpContext = 0, CqContext = 0;
    /// offsetof(struct ibv_qp, qp_num).
    public const int QpNumber = 52;
    /// offsetof(struct ibv_mr, addr / length / lkey / rkey).
    public const int MrAddress = 16, MrLength = 24, MrLocalKey = 36, MrRemoteKey = 40;
}
