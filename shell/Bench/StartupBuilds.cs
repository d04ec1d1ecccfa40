namespace SsiHv.Shell.Bench;

/// <summary>How <c>ssihv bench startup</c> starts one build: the executable and the arguments before ssihv's own.</summary>
public sealed record StartupLauncher(string Executable, IReadOnlyList<string> Prefix)
{
    public IReadOnlyList<string> Arguments(params IReadOnlyList<string> ssihvArguments) => [.. Prefix, .. ssihvArguments];
    public string Describe() => string.Join(' ', [Executable, .. Prefix]);
}

/// <summary>
/// The two builds <c>ssihv bench startup</c> compares, where the repository's layout puts them: the JIT build
/// in shell/bin/Release/net10.0/ssihv.dll (<c>dotnet build</c>) and the native AOT one in shell/bin/native/ssihv
/// (<c>dotnet publish</c>), so each finds the other from its own directory.
/// </summary>
public static class StartupBuilds
{
    public const string NativeBuildCommand = "dotnet publish shell -c Release -r linux-x64 -o shell/bin/native";
    public const string JitBuildCommand = "dotnet build shell -c Release";

    /// The native executable and the JIT ssihv.dll when none is given: this process's own build and the other
    /// one at its place in the layout. `baseDirectory` is this build's directory (AppContext.BaseDirectory).
    public static (string Native, string Jit) Defaults(bool thisIsNative, string? processPath, string baseDirectory) =>
        thisIsNative
            ? (processPath ?? Path.Combine(baseDirectory, "ssihv"), Path.GetFullPath(Path.Combine(baseDirectory, "..", "Release", "net10.0", "ssihv.dll")))
            : (Path.GetFullPath(Path.Combine(baseDirectory, "..", "..", "native", "ssihv")), Path.Combine(baseDirectory, "ssihv.dll"));

    /// The dotnet host that runs the JIT build: this process's when it is one (`dotnet ssihv.dll`), else the
    /// first on PATH, else the one in DOTNET_ROOT; null when there is none.
    public static string? DotnetHost(string? processPath, string? pathVariable, string? dotnetRoot, Func<string, bool> exists)
    {
        if (processPath is not null && Path.GetFileName(processPath) == "dotnet")
            return processPath;
        var candidates = (pathVariable ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(folder => Path.Combine(folder, "dotnet"));
        if (dotnetRoot is not null)
            candidates = candidates.Append(Path.Combine(dotnetRoot, "dotnet"));
        return candidates.FirstOrDefault(exists);
    }
}
