namespace SsiHv.Shell.Cli;

/// <summary>
/// Ends a command with an exit code and the lines to print on stderr. Commands throw it instead of printing
/// and returning, so that one place (<see cref="CliRunner.Run"/>) decides what reaches the user.
/// </summary>
public sealed class CliException(int exitCode, IReadOnlyList<string> lines)
    : Exception(string.Join(Environment.NewLine, lines))
{
    public int ExitCode { get; } = exitCode;
    public IReadOnlyList<string> Lines { get; } = lines;

    public static CliException BadInput(params IReadOnlyList<string> lines) => new(ExitCodes.BadInput, lines);
    public static CliException Failure(params IReadOnlyList<string> lines) => new(ExitCodes.Failure, lines);
}
