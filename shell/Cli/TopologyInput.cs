using SsiHv.Shell.Topology;

namespace SsiHv.Shell.Cli;

/// <summary>The <c>--topology FILE</c> argument every topology-driven command shares.</summary>
public static class TopologyInput
{
    public static OptionSpec Option { get; } =
        new("topology", "FILE", "the topology file (JSON, docs/design.md §4.2; see examples/two-node.json)");

    /// The validated topology; a broken file ends the command with exit 2 and one line per problem.
    public static Core.Topology.Topology Load(ParsedArguments arguments) =>
        TopologyFile.TryLoad(arguments.Required(Option.Name), out var topology, out var problems)
            ? topology
            : throw CliException.BadInput(problems);
}
