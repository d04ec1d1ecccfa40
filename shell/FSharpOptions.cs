using Microsoft.FSharp.Core;

namespace SsiHv.Shell;

/// <summary>C#'s absent values as the core's options (an F# None is null), for raw input handed to a core parser.</summary>
static class FSharpOptions
{
    public static FSharpOption<T>? Option<T>(T? value) where T : struct => value is { } v ? FSharpOption<T>.Some(v) : null;

    public static FSharpOption<string>? Option(string? value) => value is null ? null : FSharpOption<string>.Some(value);
}
