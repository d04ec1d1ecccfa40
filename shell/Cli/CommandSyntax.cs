namespace SsiHv.Shell.Cli;

/// <summary>An option that takes a value, e.g. <c>--topology FILE</c>, or a flag such as <c>--reboot</c>.</summary>
public sealed record OptionSpec(string Name, string ValueName, string Description, bool Required = true)
{
    public bool IsFlag => ValueName.Length == 0;

    public static OptionSpec Flag(string name, string description) => new(name, "", description, Required: false);

    public string Usage => IsFlag ? $"--{Name}" : $"--{Name} {ValueName}";
}

/// <summary>A positional argument, e.g. the <c>DIR</c> of <c>acpi check DIR</c>; as a command's Rest, every word
/// after <c>--</c> (e.g. the command <c>lab exec</c> runs).</summary>
public sealed record PositionalSpec(string Name, string Description);

/// <summary>What a command accepts, used both to parse its arguments and to print its <c>--help</c>.</summary>
public sealed record CommandSyntax(
    string Command, string Summary, string Description,
    IReadOnlyList<PositionalSpec> Positionals, IReadOnlyList<OptionSpec> Options, PositionalSpec? Rest = null)
{
    public string UsageLine =>
        string.Join(' ', new[] { $"ssihv {Command}" }
            .Concat(Positionals.Select(p => p.Name))
            .Concat(Options.Select(o => o.Required ? o.Usage : $"[{o.Usage}]"))
            .Concat(Rest is null ? [] : [$"-- {Rest.Name}"]));

    public string Help()
    {
        var lines = new List<string> { $"Usage: {UsageLine}", "", Description };
        var entries = Positionals.Concat(Rest is null ? [] : [Rest]).Select(p => (p.Name, p.Description))
            .Concat(Options.Select(o => (o.Usage, o.Description)))
            .Append(("-h, --help", "show this help"))
            .ToList();
        var width = entries.Max(e => e.Item1.Length);
        lines.Add("");
        lines.Add("Arguments:");
        lines.AddRange(entries.Select(e => $"  {e.Item1.PadRight(width)}  {e.Item2}"));
        return string.Join(Environment.NewLine, lines);
    }
}
