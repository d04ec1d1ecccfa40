using System.Globalization;
using System.Net;

namespace SsiHv.Shell.Transport;

/// <summary>The `IPv4:port` form of transport addresses (docs/node-host.md, field `transport`).</summary>
public static class PeerAddress
{
    public static bool TryParse(string text, out IPEndPoint endpoint, out string problem)
    {
        endpoint = new IPEndPoint(IPAddress.None, 0);
        var colon = text.LastIndexOf(':');
        if (colon <= 0
            || !IPAddress.TryParse(text.AsSpan(0, colon), out var address)
            || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || text.AsSpan(0, colon).Count('.') != 3)
        {
            problem = $"'{text}': expected IPv4:port, e.g. 127.0.0.1:7101";
            return false;
        }
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            problem = $"'{text}': expected a port from 1 to 65535 after the colon";
            return false;
        }
        endpoint = new IPEndPoint(address, port);
        problem = "";
        return true;
    }

    public static IPEndPoint Parse(string text) =>
        TryParse(text, out var endpoint, out var problem) ? endpoint : throw new ArgumentException($"transport address {problem}");
}
