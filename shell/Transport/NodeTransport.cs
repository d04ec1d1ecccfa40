using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport.Rdma;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Transport;

/// <summary>Chooses the transport for this machine (docs/design.md §4.6): RDMA verbs when a device exists, TCP otherwise.</summary>
public static class NodeTransport
{
    public static INodeTransport Create(TransportOptions options)
    {
        var devices = RdmaDevices.List();
        if (devices.Any)
        {
            var device = devices.Names[0];
            try
            {
                var transport = new RdmaNodeTransport(options, device);
                options.Log($"transport: node {options.Self}: using RDMA: {devices.Summary} ({string.Join(", ", devices.Names)}), the first one");
                return transport;
            }
            catch (RdmaException e)
            {
                // e.g. the port is down: the node still works, over TCP.
                options.Log($"transport: node {options.Self}: using TCP: RDMA device {device} cannot be used: {e.Message}");
                return new TcpNodeTransport(options);
            }
        }
        options.Log($"transport: node {options.Self}: using TCP: {devices.Summary}");
        return new TcpNodeTransport(options);
    }
}
