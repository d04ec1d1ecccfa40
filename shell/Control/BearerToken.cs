using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace SsiHv.Shell.Control;

/// <summary>
/// Checks <c>Authorization: Bearer TOKEN</c> against the node's apiToken. Both sides are hashed first and the
/// hashes compared in constant time, so neither the token's bytes nor its length leak through timing.
/// </summary>
public sealed class BearerToken(string token)
{
    readonly byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// Null when the request carries the token; otherwise the 401 problem to answer with.
    public IResult? Refusal(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.Length == 0)
            return Refuse(context, "this endpoint changes the cluster: send 'Authorization: Bearer <apiToken>' with the apiToken of the node configuration");
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return Refuse(context, "the Authorization header must be 'Bearer <apiToken>'");
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, expected)
            ? null
            : Refuse(context, "the bearer token is not this cluster's apiToken");
    }

    static IResult Refuse(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Unauthorized(detail);
    }
}
