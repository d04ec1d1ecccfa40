using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport;

/// <summary>Chooses the transport for this machine (DESIGN.md §4.6): RDMA verbs when a device exists, TCP otherwise.</summary>
public static class NodeTransport
{
    public static INodeTransport Create(TransportOptions options)
    {
        var devices = RdmaDevices.List();
        if (devices.Any)
        {
            options.Log($"transport: node {options.Self}: RDMA device(s) {string.Join(", ", devices.Names)} found; the RDMA verbs transport is not built yet (docs/transport.md, \"RDMA\"), using TCP");
            return new TcpNodeTransport(options);
        }
        options.Log($"transport: node {options.Self}: using TCP: {devices.Summary}");
        return new TcpNodeTransport(options);
    }
}
