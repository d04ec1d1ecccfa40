using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using Xunit;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Tests.Acpi;

/// <summary>
/// Tables made the way a user makes them: `ssihv acpi generate` run as a process on a topology file of
/// the tests (TestFiles.TopologyPath), plus the validated topology the test derives its expectations from.
/// </summary>
public sealed class GeneratedTables : IDisposable
{
    public static readonly string[] TestTopologies =
        ["one-node", "two-node", "three-node-memory-only", "four-node"];

    public CoreTopology Topology { get; }
    public string Directory { get; }

    public GeneratedTables(string topologyName)
    {
        var path = TestFiles.TopologyPath(topologyName);
        Assert.True(TopologyFile.TryLoad(path, out var topology, out var problems), string.Join('\n', problems));
        Topology = topology;
        Directory = System.IO.Directory.CreateTempSubdirectory($"ssihv-{topologyName}-").FullName;
        var generate = CliRun.AsProcess("acpi", "generate", "--topology", path, "--out", Directory);
        Assert.True(generate.ExitCode == 0, generate.ToString());
    }

    public string PathOf(string signature) => Path.Combine(Directory, signature + ".dat");

    public IEnumerable<string> TableFiles => System.IO.Directory.GetFiles(Directory, "*.dat").Order();

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
