using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>A scratch directory per test, removed afterwards, and the repository's example files.</summary>
public sealed class TestFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("ssihv-cli-").FullName;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ExampleTopologyPath => Path.Combine(RepoRoot, "examples", "two-node.json");

    public static string ExampleTopologyText => File.ReadAllText(ExampleTopologyPath);

    /// A topology file the tests use, by name: tests/topologies/NAME.json, else examples/NAME.json for one that
    /// ssihv ships and the tests share (one-node.json, the default of `ssihv bench fault`).
    public static string TopologyPath(string name)
    {
        var testTopology = Path.Combine(RepoRoot, "tests", "topologies", name + ".json");
        return File.Exists(testTopology) ? testTopology : Path.Combine(RepoRoot, "examples", name + ".json");
    }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// Writes `text` as a topology file and returns its path.
    public string Topology(string text, string name = "topology.json")
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// The example with one exact piece of text replaced; fails loudly if the piece is not there, so a change
    /// to the example cannot silently turn a test into a no-op.
    public string ExampleWith(string find, string replace)
    {
        var text = ExampleTopologyText;
        Assert.Contains(find, text);
        return Topology(text.Replace(find, replace));
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SsiHv.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"SsiHv.sln not found above {AppContext.BaseDirectory}");
    }
}
