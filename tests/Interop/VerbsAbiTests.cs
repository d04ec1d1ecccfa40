using SsiHv.Interop.Rdma;
using Xunit;
using static SsiHv.Tests.Interop.OurLayout;

namespace SsiHv.Tests.Interop;

/// <summary>
/// Our hand-written verbs layouts against rdma-core's own: a C program compiled here against infiniband/verbs.h
/// (libibverbs-dev, installed by .ci/setup.sh) prints sizeof/offsetof/enum values, and every one must match. Runs
/// without an RDMA device: it checks the ABI the RDMA transport calls through, not a device.
/// </summary>
public sealed class VerbsAbiTests
{
    static readonly Lazy<Dictionary<string, ulong>> HeaderValues = new(CompileAndRunProbe);

    public static TheoryData<string, ulong> OurValues() => new()
    {
        { "sizeof(struct ibv_sge)", Size<IbvSge>() },
        { "offsetof(struct ibv_sge, length)", Offset<IbvSge>(nameof(IbvSge.Length)) },
        { "offsetof(struct ibv_sge, lkey)", Offset<IbvSge>(nameof(IbvSge.LocalKey)) },

        { "sizeof(struct ibv_send_wr)", Size<IbvSendWr>() },
        { "offsetof(struct ibv_send_wr, next)", Offset<IbvSendWr>(nameof(IbvSendWr.Next)) },
        { "offsetof(struct ibv_send_wr, sg_list)", Offset<IbvSendWr>(nameof(IbvSendWr.ScatterGatherList)) },
        { "offsetof(struct ibv_send_wr, num_sge)", Offset<IbvSendWr>(nameof(IbvSendWr.ScatterGatherCount)) },
        { "offsetof(struct ibv_send_wr, opcode)", Offset<IbvSendWr>(nameof(IbvSendWr.Opcode)) },
        { "offsetof(struct ibv_send_wr, send_flags)", Offset<IbvSendWr>(nameof(IbvSendWr.SendFlags)) },
        { "offsetof(struct ibv_send_wr, imm_data)", Offset<IbvSendWr>(nameof(IbvSendWr.ImmediateData)) },
        { "offsetof(struct ibv_send_wr, wr.rdma.remote_addr)", Offset<IbvSendWr>(nameof(IbvSendWr.RemoteAddress)) },
        { "offsetof(struct ibv_send_wr, wr.rdma.rkey)", Offset<IbvSendWr>(nameof(IbvSendWr.RemoteKey)) },

        { "sizeof(struct ibv_recv_wr)", Size<IbvRecvWr>() },
        { "offsetof(struct ibv_recv_wr, next)", Offset<IbvRecvWr>(nameof(IbvRecvWr.Next)) },
        { "offsetof(struct ibv_recv_wr, sg_list)", Offset<IbvRecvWr>(nameof(IbvRecvWr.ScatterGatherList)) },
        { "offsetof(struct ibv_recv_wr, num_sge)", Offset<IbvRecvWr>(nameof(IbvRecvWr.ScatterGatherCount)) },

        { "sizeof(struct ibv_wc)", Size<IbvWc>() },
        { "offsetof(struct ibv_wc, status)", Offset<IbvWc>(nameof(IbvWc.Status)) },
        { "offsetof(struct ibv_wc, opcode)", Offset<IbvWc>(nameof(IbvWc.Opcode)) },
        { "offsetof(struct ibv_wc, vendor_err)", Offset<IbvWc>(nameof(IbvWc.VendorError)) },
        { "offsetof(struct ibv_wc, byte_len)", Offset<IbvWc>(nameof(IbvWc.ByteLength)) },
        { "offsetof(struct ibv_wc, qp_num)", Offset<IbvWc>(nameof(IbvWc.QueuePairNumber)) },
        { "offsetof(struct ibv_wc, wc_flags)", Offset<IbvWc>(nameof(IbvWc.Flags)) },
        { "offsetof(struct ibv_wc, dlid_path_bits)", Offset<IbvWc>(nameof(IbvWc.DlidPathBits)) },

        { "sizeof(struct ibv_qp_cap)", Size<IbvQpCap>() },
        { "offsetof(struct ibv_qp_cap, max_inline_data)", Offset<IbvQpCap>(nameof(IbvQpCap.MaxInlineData)) },
        { "sizeof(struct ibv_qp_init_attr)", Size<IbvQpInitAttr>() },
        { "offsetof(struct ibv_qp_init_attr, send_cq)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.SendCq)) },
        { "offsetof(struct ibv_qp_init_attr, recv_cq)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.RecvCq)) },
        { "offsetof(struct ibv_qp_init_attr, srq)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.Srq)) },
        { "offsetof(struct ibv_qp_init_attr, cap)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.Cap)) },
        { "offsetof(struct ibv_qp_init_attr, qp_type)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.QpType)) },
        { "offsetof(struct ibv_qp_init_attr, sq_sig_all)", Offset<IbvQpInitAttr>(nameof(IbvQpInitAttr.SqSigAll)) },

        { "sizeof(struct ibv_global_route)", Size<IbvGlobalRoute>() },
        { "sizeof(struct ibv_ah_attr)", Size<IbvAhAttr>() },
        { "sizeof(struct ibv_qp_attr)", Size<IbvQpAttr>() },
        { "offsetof(struct ibv_qp_attr, path_mtu)", Offset<IbvQpAttr>(nameof(IbvQpAttr.PathMtu)) },
        { "offsetof(struct ibv_qp_attr, rq_psn)", Offset<IbvQpAttr>(nameof(IbvQpAttr.ReceivePsn)) },
        { "offsetof(struct ibv_qp_attr, sq_psn)", Offset<IbvQpAttr>(nameof(IbvQpAttr.SendPsn)) },
        { "offsetof(struct ibv_qp_attr, dest_qp_num)", Offset<IbvQpAttr>(nameof(IbvQpAttr.DestinationQpNumber)) },
        { "offsetof(struct ibv_qp_attr, qp_access_flags)", Offset<IbvQpAttr>(nameof(IbvQpAttr.QpAccessFlags)) },
        { "offsetof(struct ibv_qp_attr, cap)", Offset<IbvQpAttr>(nameof(IbvQpAttr.Cap)) },
        { "offsetof(struct ibv_qp_attr, ah_attr)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.grh.flow_label)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvGlobalRoute>(nameof(IbvGlobalRoute.FlowLabel)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.grh.sgid_index)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvGlobalRoute>(nameof(IbvGlobalRoute.SourceGidIndex)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.grh.hop_limit)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvGlobalRoute>(nameof(IbvGlobalRoute.HopLimit)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.dlid)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvAhAttr>(nameof(IbvAhAttr.DestinationLid)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.sl)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvAhAttr>(nameof(IbvAhAttr.ServiceLevel)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.is_global)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvAhAttr>(nameof(IbvAhAttr.IsGlobal)) },
        { "offsetof(struct ibv_qp_attr, ah_attr.port_num)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AhAttr)) + Offset<IbvAhAttr>(nameof(IbvAhAttr.PortNumber)) },
        { "offsetof(struct ibv_qp_attr, alt_ah_attr)", Offset<IbvQpAttr>(nameof(IbvQpAttr.AlternateAhAttr)) },
        { "offsetof(struct ibv_qp_attr, pkey_index)", Offset<IbvQpAttr>(nameof(IbvQpAttr.PkeyIndex)) },
        { "offsetof(struct ibv_qp_attr, max_rd_atomic)", Offset<IbvQpAttr>(nameof(IbvQpAttr.MaxReadAtomic)) },
        { "offsetof(struct ibv_qp_attr, max_dest_rd_atomic)", Offset<IbvQpAttr>(nameof(IbvQpAttr.MaxDestinationReadAtomic)) },
        { "offsetof(struct ibv_qp_attr, min_rnr_timer)", Offset<IbvQpAttr>(nameof(IbvQpAttr.MinRnrTimer)) },
        { "offsetof(struct ibv_qp_attr, port_num)", Offset<IbvQpAttr>(nameof(IbvQpAttr.PortNumber)) },
        { "offsetof(struct ibv_qp_attr, timeout)", Offset<IbvQpAttr>(nameof(IbvQpAttr.Timeout)) },
        { "offsetof(struct ibv_qp_attr, retry_cnt)", Offset<IbvQpAttr>(nameof(IbvQpAttr.RetryCount)) },
        { "offsetof(struct ibv_qp_attr, rnr_retry)", Offset<IbvQpAttr>(nameof(IbvQpAttr.RnrRetry)) },
        { "offsetof(struct ibv_qp_attr, rate_limit)", Offset<IbvQpAttr>(nameof(IbvQpAttr.RateLimit)) },

        { "sizeof(struct ibv_port_attr)", Size<IbvPortAttr>() },
        { "offsetof(struct ibv_port_attr, active_mtu)", Offset<IbvPortAttr>(nameof(IbvPortAttr.ActiveMtu)) },
        { "offsetof(struct ibv_port_attr, gid_tbl_len)", Offset<IbvPortAttr>(nameof(IbvPortAttr.GidTableLength)) },
        { "offsetof(struct ibv_port_attr, lid)", Offset<IbvPortAttr>(nameof(IbvPortAttr.Lid)) },
        { "offsetof(struct ibv_port_attr, link_layer)", Offset<IbvPortAttr>(nameof(IbvPortAttr.LinkLayer)) },
        { "offsetof(struct ibv_port_attr, port_cap_flags2)", Offset<IbvPortAttr>(nameof(IbvPortAttr.PortCapabilityFlags2)) },
        { "sizeof(union ibv_gid)", Size<IbvGid>() },

        { "offsetof(struct ibv_context, ops.poll_cq)", VerbsOffsets.ContextPollCq },
        { "offsetof(struct ibv_context, ops.post_send)", VerbsOffsets.ContextPostSend },
        { "offsetof(struct ibv_context, ops.post_recv)", VerbsOffsets.ContextPostRecv },
        { "offsetof(struct ibv_qp, context)", VerbsOffsets.QpContext },
        { "offsetof(struct ibv_cq, context)", VerbsOffsets.CqContext },
        { "offsetof(struct ibv_qp, qp_num)", VerbsOffsets.QpNumber },
        { "offsetof(struct ibv_mr, addr)", VerbsOffsets.MrAddress },
        { "offsetof(struct ibv_mr, length)", VerbsOffsets.MrLength },
        { "offsetof(struct ibv_mr, lkey)", VerbsOffsets.MrLocalKey },
        { "offsetof(struct ibv_mr, rkey)", VerbsOffsets.MrRemoteKey },

        { "IBV_QPT_RC", (ulong)IbvQpType.ReliableConnected },
        { "IBV_QPS_RESET", (ulong)IbvQpState.Reset },
        { "IBV_QPS_INIT", (ulong)IbvQpState.Init },
        { "IBV_QPS_RTR", (ulong)IbvQpState.ReadyToReceive },
        { "IBV_QPS_RTS", (ulong)IbvQpState.ReadyToSend },
        { "IBV_QPS_ERR", (ulong)IbvQpState.Error },
        { "IBV_MTU_256", (ulong)IbvMtu.Mtu256 },
        { "IBV_MTU_1024", (ulong)IbvMtu.Mtu1024 },
        { "IBV_MTU_4096", (ulong)IbvMtu.Mtu4096 },
        { "IBV_PORT_ACTIVE", (ulong)IbvPortState.Active },
        { "IBV_LINK_LAYER_INFINIBAND", (ulong)IbvLinkLayer.InfiniBand },
        { "IBV_LINK_LAYER_ETHERNET", (ulong)IbvLinkLayer.Ethernet },
        { "IBV_ACCESS_LOCAL_WRITE", (ulong)IbvAccess.LocalWrite },
        { "IBV_ACCESS_REMOTE_WRITE", (ulong)IbvAccess.RemoteWrite },
        { "IBV_ACCESS_REMOTE_READ", (ulong)IbvAccess.RemoteRead },
        { "IBV_QP_STATE", (ulong)IbvQpAttrMask.State },
        { "IBV_QP_ACCESS_FLAGS", (ulong)IbvQpAttrMask.AccessFlags },
        { "IBV_QP_PKEY_INDEX", (ulong)IbvQpAttrMask.PkeyIndex },
        { "IBV_QP_PORT", (ulong)IbvQpAttrMask.Port },
        { "IBV_QP_AV", (ulong)IbvQpAttrMask.AddressVector },
        { "IBV_QP_PATH_MTU", (ulong)IbvQpAttrMask.PathMtu },
        { "IBV_QP_TIMEOUT", (ulong)IbvQpAttrMask.Timeout },
        { "IBV_QP_RETRY_CNT", (ulong)IbvQpAttrMask.RetryCount },
        { "IBV_QP_RNR_RETRY", (ulong)IbvQpAttrMask.RnrRetry },
        { "IBV_QP_RQ_PSN", (ulong)IbvQpAttrMask.ReceivePsn },
        { "IBV_QP_MAX_QP_RD_ATOMIC", (ulong)IbvQpAttrMask.MaxQpReadAtomic },
        { "IBV_QP_MIN_RNR_TIMER", (ulong)IbvQpAttrMask.MinRnrTimer },
        { "IBV_QP_SQ_PSN", (ulong)IbvQpAttrMask.SendPsn },
        { "IBV_QP_MAX_DEST_RD_ATOMIC", (ulong)IbvQpAttrMask.MaxDestinationReadAtomic },
        { "IBV_QP_DEST_QPN", (ulong)IbvQpAttrMask.DestinationQpNumber },
        { "IBV_WR_RDMA_WRITE", (ulong)IbvWrOpcode.RdmaWrite },
        { "IBV_WR_SEND", (ulong)IbvWrOpcode.Send },
        { "IBV_WR_RDMA_READ", (ulong)IbvWrOpcode.RdmaRead },
        { "IBV_SEND_FENCE", (ulong)IbvSendFlags.Fence },
        { "IBV_SEND_SIGNALED", (ulong)IbvSendFlags.Signaled },
        { "IBV_WC_SUCCESS", (ulong)IbvWcStatus.Success },
        { "IBV_WC_WR_FLUSH_ERR", (ulong)IbvWcStatus.WorkRequestFlushError },
        { "IBV_WC_RETRY_EXC_ERR", (ulong)IbvWcStatus.RetryExceeded },
    };

    [Theory]
    [MemberData(nameof(OurValues))]
    public void Matches_infiniband_verbs_h(string expression, ulong ours)
    {
        Assert.True(HeaderValues.Value.TryGetValue(expression, out var header), $"the probe did not print {expression}");
        Assert.True(header == ours, $"{expression}: verbs.h says {header}, we say {ours}");
    }

    static Dictionary<string, ulong> CompileAndRunProbe() =>
        KernelHeaderValues.Evaluate(["infiniband/verbs.h"], OurValues().Select(row => (string)row[0]));
}
