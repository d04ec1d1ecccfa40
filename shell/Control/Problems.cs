using Microsoft.AspNetCore.Http;

namespace SsiHv.Shell.Control;

/// <summary>Every error reply of the control API: an <c>application/problem+json</c> document whose detail says what to do.</summary>
public static class Problems
{
    public const string ContentType = "application/problem+json";

    public static IResult Of(int status, string title, string detail) =>
        Results.Json(new ProblemReply("about:blank", title, status, detail), ControlJsonContext.Default.ProblemReply, ContentType, status);

    public static IResult BadRequest(string detail) => Of(StatusCodes.Status400BadRequest, "Bad request", detail);

    public static IResult Forbidden(string detail) => Of(StatusCodes.Status403Forbidden, "Forbidden", detail);

    public static IResult NotFound(string detail) => Of(StatusCodes.Status404NotFound, "Not found", detail);

    public static IResult Conflict(string detail) => Of(StatusCodes.Status409Conflict, "Refused by the cluster membership", detail);

    public static IResult Unauthorized(string detail) => Of(StatusCodes.Status401Unauthorized, "Unauthorized", detail);
}
