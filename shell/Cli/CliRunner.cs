using System.Reflection;
using SsiHv.Shell.Cli.Bench;

namespace SsiHv.Shell.Cli;

/// <summary>
/// The <c>ssihv</c> front end: picks the command named by the leading words, parses the rest, runs it, and is
/// the one place that turns failures into stderr lines and exit codes (docs/design.md §4.1). No exception escapes
/// and no stack trace is ever printed: an unexpected exception becomes a single line and exit 1.
/// </summary>
public static class CliRunner
{
    /// Every command, in the order the top-level help lists them.
    public static IReadOnlyList<ICommand> Commands { get; } =
        [new AcpiGenerateCommand(), new AcpiShowCommand(), new AcpiCheckCommand(), new RunCommand(), new NodeCommand(), new UpCommand(), new LabExecCommand(), new LabPrepareCommand(), new LabCheckCommand(), new BenchCommand()];

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        try
        {
            return Dispatch(args, output);
        }
        catch (CliException e)
        {
            foreach (var line in e.Lines)
                error.WriteLine(line);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            error.WriteLine($"ssihv: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitCodes.Failure;
        }
    }

    static int Dispatch(IReadOnlyList<string> args, TextWriter output)
    {
        if (args.Count == 0)
            throw CliException.BadInput(TopLevelHelp().Split(Environment.NewLine));
        if (args[0] is "-h" or "--help" or "help")
        {
            output.WriteLine(TopLevelHelp());
            return ExitCodes.Success;
        }
        if (args[0] == "--version")
        {
            output.WriteLine($"ssihv {Version}");
            return ExitCodes.Success;
        }

        // The longest run of leading words that names a command: "acpi generate" before "acpi".
        var match = Commands
            .Select(c => (Command: c, Words: c.Syntax.Command.Split(' ')))
            .Where(c => c.Words.Length <= args.Count && c.Words.SequenceEqual(args.Take(c.Words.Length)))
            .OrderByDescending(c => c.Words.Length)
            .FirstOrDefault();
        if (match.Command is null)
            return GroupOrUnknown(args, output);

        var syntax = match.Command.Syntax;
        var arguments = ParsedArguments.Parse(syntax, args.Skip(match.Words.Length).ToList());
        if (arguments.HelpRequested)
        {
            output.WriteLine(syntax.Help());
            return ExitCodes.Success;
        }
        return match.Command.Run(arguments, output);
    }

    /// "ssihv acpi" or "ssihv acpi --help" list the acpi commands; anything else is unknown.
    static int GroupOrUnknown(IReadOnlyList<string> args, TextWriter output)
    {
        var group = Commands.Where(c => c.Syntax.Command.StartsWith(args[0] + " ", StringComparison.Ordinal)).ToList();
        if (group.Count == 0)
            throw CliException.BadInput($"ssihv: unknown command '{args[0]}'; see 'ssihv --help'");
        var listing = $"Usage: ssihv {args[0]} COMMAND ...{Environment.NewLine}{Environment.NewLine}{CommandList(group, $"{args[0]} ")}";
        if (args.Count == 2 && args[1] is "-h" or "--help")
        {
            output.WriteLine(listing);
            return ExitCodes.Success;
        }
        var problem = args.Count == 1 ? $"ssihv {args[0]}: missing command" : $"ssihv {args[0]}: unknown command '{args[1]}'";
        throw CliException.BadInput([problem, .. listing.Split(Environment.NewLine)]);
    }

    /// The build's informational version (the project's Version, plus the source revision when the build knows it).
    public static string Version { get; } =
        typeof(CliRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    static string TopLevelHelp() =>
        string.Join(Environment.NewLine,
            "ssihv: one virtual machine spread over several Linux hosts that the guest sees as one NUMA machine.",
            "",
            "Usage: ssihv COMMAND [ARGUMENTS]   ('ssihv COMMAND --help' describes one command; 'ssihv --version' prints the version)",
            "",
            CommandList(Commands, ""),
            "",
            "Exit codes: 0 success, 1 failure, 2 bad input (the message names the file and the field).");

    /// One line per command; `prefix` (the group's own name) is left out inside a group's listing.
    static string CommandList(IEnumerable<ICommand> commands, string prefix)
    {
        var rows = commands.Select(c => (Name: c.Syntax.Command[prefix.Length..], c.Syntax.Summary)).ToList();
        var width = rows.Max(r => r.Name.Length);
        return "Commands:" + Environment.NewLine
            + string.Join(Environment.NewLine, rows.Select(r => $"  {r.Name.PadRight(width)}  {r.Summary}"));
    }

    static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
