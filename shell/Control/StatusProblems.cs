using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace SsiHv.Shell.Control;

/// <summary>
/// Gives the replies the API's own endpoints do not write a problem+json body too: a path no endpoint has (404),
/// a method the path does not answer (405), a request target longer than <see cref="MaximumTargetLength"/> (414).
/// Kestrel itself answers only targets beyond its own, larger, request-line limit, with an empty 414.
/// </summary>
public static class StatusProblems
{
    /// The longest path and query the API reads; its longest real target is well under 100 characters.
    public const int MaximumTargetLength = 2048;

    /// Kestrel's request-line limit, above ours so that ours is the one a client meets first.
    public const int KestrelRequestLineLimit = 16 * 1024;

    public static void Use(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var target = context.Request.Path.Value?.Length + context.Request.QueryString.Value?.Length ?? 0;
            if (target > MaximumTargetLength)
            {
                await Problems.Of(StatusCodes.Status414UriTooLong, "Request target too long",
                        $"the path and query are {target} characters; at most {MaximumTargetLength} are read")
                    .ExecuteAsync(context);
                return;
            }
            await next(context);
            if (context.Response.HasStarted || context.Response.ContentLength > 0 || context.Response.ContentType is not null)
                return;
            var request = $"{context.Request.Method} {context.Request.Path}";
            var problem = context.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => Problems.NotFound($"{request}: no such resource; docs/node-host.md lists the API"),
                StatusCodes.Status405MethodNotAllowed => Problems.Of(StatusCodes.Status405MethodNotAllowed, "Method not allowed",
                    $"{request}: this path answers {context.Response.Headers.Allow}"),
                _ => null,
            };
            if (problem is not null)
                await problem.ExecuteAsync(context);
        });
    }
}
