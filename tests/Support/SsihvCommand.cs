namespace SsiHv.Tests.Support;

/// <summary>
/// How tests start <c>ssihv</c> as a process: the native executable named by <c>SSIHV_EXECUTABLE</c> (test.sh sets
/// it to the native AOT build, so the process-level tests exercise what users run), else <c>dotnet ssihv.dll</c>
/// from the test's own directory, where the build copies the shell.
/// </summary>
public static class SsihvCommand
{
    public const string ExecutableVariable = "SSIHV_EXECUTABLE";

    /// The native executable under test, or null when the tests run the JIT build.
    public static string? NativeExecutable =>
        Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } path ? path : null;

    /// Program and arguments of `ssihv ARGS`.
    public static (string Program, string[] Arguments) For(params string[] args) =>
        NativeExecutable is { } native
            ? (native, args)
            : ("dotnet", [Path.Combine(AppContext.BaseDirectory, "ssihv.dll"), .. args]);
}
