using System.Globalization;

namespace SsiHv.Shell.Cli;

/// <summary>
/// A hand-written parser for one command's arguments: <c>--name value</c>, <c>--name=value</c>, positionals,
/// <c>--</c> to end options, and <c>-h</c>/<c>--help</c>. Anything it does not recognise is bad input (exit 2),
/// reported with the command's usage line.
/// </summary>
public sealed class ParsedArguments
{
    readonly Dictionary<string, string> options;
    readonly Dictionary<string, string> positionals;

    ParsedArguments(bool helpRequested, Dictionary<string, string> options, Dictionary<string, string> positionals, IReadOnlyList<string> rest)
    {
        HelpRequested = helpRequested;
        this.options = options;
        this.positionals = positionals;
        Rest = rest;
    }

    public bool HelpRequested { get; }

    /// The words after `--` of a command with a Rest argument, as given.
    public IReadOnlyList<string> Rest { get; }

    public string? Option(string name) => options.GetValueOrDefault(name);

    public bool Flag(string name) => options.ContainsKey(name);

    /// A duration option in seconds (0 < s <= one day), or `fallback` when it is absent; bad input names it.
    public TimeSpan Seconds(string command, OptionSpec option, double fallback)
    {
        var text = Option(option.Name);
        if (text is null)
            return TimeSpan.FromSeconds(fallback);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 86400
            ? TimeSpan.FromSeconds(seconds)
            : throw CliException.BadInput($"ssihv {command}: --{option.Name} {text}: expected a number of seconds between 0 and 86400");
    }

    /// Present whenever parsing succeeded: required options and all positionals are checked by <see cref="Parse"/>.
    public string Required(string name) =>
        options.GetValueOrDefault(name) ?? positionals.GetValueOrDefault(name)
        ?? throw new InvalidOperationException($"'{name}' is not a required argument of this command");

    public static ParsedArguments Parse(CommandSyntax syntax, IReadOnlyList<string> args)
    {
        var options = new Dictionary<string, string>();
        var positionalValues = new List<string>();
        var rest = new List<string>();
        var optionsEnded = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (optionsEnded && syntax.Rest is not null)
            {
                rest.Add(arg);
                continue;
            }
            if (optionsEnded || !arg.StartsWith('-') || arg == "-")
            {
                positionalValues.Add(arg);
                continue;
            }
            if (arg == "--")
            {
                optionsEnded = true;
                continue;
            }
            if (arg is "-h" or "--help")
                return new ParsedArguments(true, [], [], []);

            if (!arg.StartsWith("--"))
                throw Usage(syntax, $"unknown option '{arg}'");
            var equals = arg.IndexOf('=');
            var name = equals > 0 ? arg[2..equals] : arg[2..];
            var inlineValue = equals > 0 ? arg[(equals + 1)..] : null;
            var spec = syntax.Options.FirstOrDefault(o => o.Name == name) ?? throw Usage(syntax, $"unknown option '{arg}'");
            if (options.ContainsKey(spec.Name))
                throw Usage(syntax, $"--{spec.Name} given more than once");
            if (spec.IsFlag)
            {
                if (inlineValue is not null)
                    throw Usage(syntax, $"--{spec.Name} takes no value");
                options[spec.Name] = "";
                continue;
            }
            // "--topology --out d" means the value was forgotten, not a file named "--out".
            var value = inlineValue
                ?? (i + 1 < args.Count && !args[i + 1].StartsWith("--") ? args[++i] : throw Usage(syntax, $"--{spec.Name} needs a value ({spec.ValueName})"));
            if (value.Length == 0)
                throw Usage(syntax, $"--{spec.Name} needs a non-empty value ({spec.ValueName})");
            options[spec.Name] = value;
        }

        if (positionalValues.Count > syntax.Positionals.Count)
            throw Usage(syntax, $"unexpected argument '{positionalValues[syntax.Positionals.Count]}'");
        if (positionalValues.Count < syntax.Positionals.Count)
            throw Usage(syntax, $"missing {syntax.Positionals[positionalValues.Count].Name}");
        foreach (var missing in syntax.Options.Where(o => o.Required && !options.ContainsKey(o.Name)))
            throw Usage(syntax, $"missing --{missing.Name} {missing.ValueName}");
        if (syntax.Rest is not null && rest.Count == 0)
            throw Usage(syntax, $"missing -- {syntax.Rest.Name}");

        var positionals = syntax.Positionals.Zip(positionalValues).ToDictionary(p => p.First.Name, p => p.Second);
        return new ParsedArguments(false, options, positionals, rest);
    }

    static CliException Usage(CommandSyntax syntax, string problem) =>
        CliException.BadInput(
            $"ssihv {syntax.Command}: {problem}",
            $"usage: {syntax.UsageLine} (see 'ssihv {syntax.Command} --help')");
}
