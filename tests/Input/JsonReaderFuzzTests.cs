using System.Text;
using SsiHv.Shell.Control;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Input;

/// <summary>
/// Fuzzing the JSON readers (JsonInput and what reads through it: topology files, node configs, HTTP bodies)
/// with the byte mutator over real valid inputs. Each reader must answer every input with its value or with
/// problems a person can read, never with an exception (docs/transport.md, "Fuzzing").
/// </summary>
public sealed class JsonReaderFuzzTests
{
    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    static IReadOnlyList<(string, byte[])> Files(params string[] directories) =>
        directories.SelectMany(d => Directory.GetFiles(Path.Combine(TestFiles.RepoRoot, d), "*.json"))
            .Order(StringComparer.Ordinal)
            .Select(path => (Path.GetRelativePath(TestFiles.RepoRoot, path), File.ReadAllBytes(path)))
            .ToList();

    /// The property holds for the seeds themselves as valid inputs, and for every mutation of them as the
    /// reader's value or its problems.
    static void Fuzz(IReadOnlyList<(string Name, byte[] Bytes)> seeds, Func<byte[], (bool Read, IReadOnlyList<string> Problems)> read)
    {
        foreach (var (name, bytes) in seeds)
            Assert.True(read(bytes).Read, $"the seed {name} is not a valid input: {string.Join("; ", read(bytes).Problems)}");
        ByteMutator.Check(seeds, mutated =>
        {
            var (ok, problems) = read(mutated.Bytes);
            return ok ? problems.Count == 0 : problems.Count > 0 && problems.All(p => !string.IsNullOrWhiteSpace(p));
        });
    }

    const string FileName = "fuzz.json";

    /// A file reader's answer, with a problem that does not name the file made a failure of its own.
    static (bool, IReadOnlyList<string>) NamingFile(bool read, IReadOnlyList<string> problems) =>
        (read, problems.All(p => p.StartsWith($"{FileName}: ", StringComparison.Ordinal)) ? problems : [$"a problem without the file's name among: {string.Join("; ", problems)}"]);

    [Fact]
    public void Mutated_topology_files_are_read_or_refused_with_problems_naming_the_file_never_thrown()
    {
        var seeds = Files("examples", "tests/topologies");
        Assert.True(seeds.Count >= 5, $"found only {seeds.Count} topology files");
        Fuzz(seeds, bytes => NamingFile(TopologyFile.TryParse(FileName, bytes, out _, out var problems), problems));
    }

    [Fact]
    public void Mutated_node_configs_are_read_or_refused_with_problems_naming_the_file_never_thrown()
    {
        var seeds = new List<(string, byte[])>
        {
            ("memory node (docs/node-host.md)", Utf8("""
                { "id": 1, "transport": "127.0.0.1:7101", "http": "127.0.0.1:8101", "secret": "00112233445566778899aabbccddeeff",
                  "apiToken": "a-long-random-token", "cpus": 0, "memoryMiB": 1024, "initiator": 0, "join": "http://127.0.0.1:8100" }
                """)),
            ("boot node (docs/operations.md)", Utf8("""
                { "id": 0, "boot": true, "transport": "10.0.0.10:7100", "http": "10.0.0.10:8100",
                  "secret": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "apiToken": "a-long-random-token",
                  "cpus": 8, "memoryMiB": 16384, "memoryBudgetMiB": 12288 }
                """)),
        };
        Fuzz(seeds, bytes => NamingFile(NodeConfigFile.TryParse(FileName, bytes, out _, out var problems), problems));
    }

    [Fact]
    public void Mutated_HTTP_bodies_are_read_or_refused_with_a_problem_never_thrown()
    {
        var joins = new List<(string, byte[])>
        {
            ("join", Utf8("""{"id":1,"cpus":0,"memoryMiB":512,"address":"127.0.0.1:7101"}""")),
            ("join with initiator", Utf8("""{"id":2,"cpus":0,"memoryMiB":1024,"address":"10.0.0.12:7100","initiator":0}""")),
        };
        Fuzz(joins, bytes =>
        {
            var (info, problem) = ControlApi.JoinOf(bytes);
            return (info is not null, problem is null ? [] : [problem]);
        });
        var starts = new List<(string, byte[])>
        {
            ("probe", Utf8("""{"guest":"probe"}""")),
            ("kernel", Utf8("""{"kernel":"/boot/vmlinuz","initrd":"/boot/initrd.img","append":"console=ttyS0","timeoutSeconds":30}""")),
        };
        Fuzz(starts, bytes =>
        {
            var (request, problem) = ControlApi.VmStartOf(bytes);
            return (request is not null, problem is null ? [] : [problem]);
        });
    }
}
