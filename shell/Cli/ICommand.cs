namespace SsiHv.Shell.Cli;

/// <summary>One <c>ssihv</c> command. Failures are thrown as <see cref="CliException"/>.</summary>
public interface ICommand
{
    CommandSyntax Syntax { get; }

    /// Runs with arguments already checked against <see cref="Syntax"/>; returns the exit code.
    int Run(ParsedArguments arguments, TextWriter output);
}
