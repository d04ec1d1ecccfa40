namespace SsiHv.Interop.Rdma;

// verbs.h enum values used by the transport; checked against the header by tests/Interop/VerbsAbiTests.cs.

/// enum ibv_qp_type.
public enum IbvQpType
{
    ReliableConnected = 2, // IBV_QPT_RC
}

/// enum ibv_qp_state.
public enum IbvQpState
{
    Reset = 0,
    Init = 1,
    ReadyToReceive = 2,
    ReadyToSend = 3,
    Error = 6,
}

/// enum ibv_mtu.
public enum IbvMtu
{
    Mtu256 = 1,
    Mtu512 = 2,
    Mtu1024 = 3,
    Mtu2048 = 4,
    Mtu4096 = 5,
}

/// enum ibv_port_state.
public enum IbvPortState
{
    Active = 4,
}

/// IBV_LINK_LAYER_*: Ethernet (RoCE) ports must be addressed by GID.
public enum IbvLinkLayer : byte
{
    Unspecified = 0,
    InfiniBand = 1,
    Ethernet = 2,
}

/// enum ibv_access_flags.
[Flags]
public enum IbvAccess
{
    LocalWrite = 1,
    RemoteWrite = 2,
    RemoteRead = 4,
}

/// enum ibv_qp_attr_mask.
[Flags]
public enum IbvQpAttrMask
{
    State = 1 << 0,
    AccessFlags = 1 << 3,
    PkeyIndex = 1 << 4,
    Port = 1 << 5,
    AddressVector = 1 << 7,
    PathMtu = 1 << 8,
    Timeout = 1 << 9,
    RetryCount = 1 << 10,
    RnrRetry = 1 << 11,
    ReceivePsn = 1 << 12,
    MaxQpReadAtomic = 1 << 13,
    MinRnrTimer = 1 << 15,
    SendPsn = 1 << 16,
    MaxDestinationReadAtomic = 1 << 17,
    DestinationQpNumber = 1 << 20,
}

/// enum ibv_wr_opcode.
public enum IbvWrOpcode
{
    RdmaWrite = 0,
    Send = 2,
    RdmaRead = 4,
}

/// enum ibv_send_flags.
[Flags]
public enum IbvSendFlags
{
    None = 0,
    /// Start this work request only after every earlier RDMA READ on the send queue completed.
    Fence = 1 << 0,
    Signaled = 1 << 1,
}

/// enum ibv_wc_status (only success is told apart; the others are named by ibv_wc_status_str's numbers).
public enum IbvWcStatus
{
    Success = 0,
    WorkRequestFlushError = 5,
    RetryExceeded = 12,
}
