namespace SsiHv.Shell.Cli;

/// <summary>The exit codes of docs/design.md §4.1, which scripts around <c>ssihv</c> rely on.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// The guest or cluster failed, or the tool itself did; the message says why.
    public const int Failure = 1;
    /// Bad input: the message names the file, the field and what was expected.
    public const int BadInput = 2;
}
