using SsiHv.Core.Transport;

namespace SsiHv.Shell.Transport;

/// <summary>
/// Requests other than page traffic that a peer sends on its authenticated connection: the RDMA transport's
/// queue-pair setup and slot lookups (docs/transport.md, "RDMA"). The TCP transport alone has none, and answers
/// such requests ErrorReply(unsupportedRequest) as before.
/// </summary>
public interface ISideChannelService
{
    /// The reply to `request` from node `peer`, or null when this service does not serve it. May throw: the peer
    /// gets ErrorReply with the exception's text, the connection goes on.
    Message? Serve(int peer, Message request);
}
