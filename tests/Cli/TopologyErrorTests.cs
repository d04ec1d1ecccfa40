using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>
/// A broken topology file is bad input (exit 2): stderr names the file, the field path and what was expected,
/// and never shows a stack trace. The example is broken one field at a time so each rule is seen alone.
/// </summary>
public sealed class TopologyErrorTests : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    static void AssertBadInput(CliResult result, string file, params string[] expectedInStderr)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"{file}: ", result.Stderr);
        foreach (var expected in expectedInStderr)
            Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    static CliResult Show(string topology) => CliRun.InProcess("acpi", "show", "--topology", topology);

    [Fact]
    public void MissingFieldIsReportedAsRequiredWithItsPath()
    {
        var file = files.ExampleWith("\"cpus\": 0, \"memoryMiB\": 1024,", "\"cpus\": 0,");
        AssertBadInput(Show(file), file, "nodes[1].memoryMiB: required");
    }

    [Fact]
    public void WrongJsonTypeNamesLineFieldExpectedAndFound()
    {
        var file = files.ExampleWith("\"cpus\": 2,", "\"cpus\": \"2\",");
        AssertBadInput(Show(file), file, "line 4: nodes[0].cpus: expected an integer", "found \"2\"");
    }

    [Fact]
    public void FractionWhereAnIntegerIsExpectedIsAWrongType()
    {
        var file = files.ExampleWith("[[10, 40], [40, 10]]", "[[10, 40.5], [40, 10]]");
        AssertBadInput(Show(file), file, "distances[0][1]: expected an integer", "found 40.5");
    }

    [Fact]
    public void ArrayWhereAnObjectIsExpectedIsAWrongType()
    {
        var file = files.Topology("[1, 2]");
        AssertBadInput(Show(file), file, "line 1: (top level): expected an object, found an array");
    }

    [Fact]
    public void MalformedJsonNamesLineAndColumn()
    {
        var file = files.ExampleWith("\"memoryMiB\": 1024, \"address\": \"127.0.0.1:7100\"", "\"memoryMiB\": 1024 \"address\": \"127.0.0.1:7100\"");
        AssertBadInput(Show(file), file, "line 4, column", "not valid JSON", "nodes[0]");
    }

    [Fact]
    public void EmptyFileIsMalformedJson()
    {
        var file = files.Topology("");
        AssertBadInput(Show(file), file, "line 1, column 1: not valid JSON");
    }

    [Fact]
    public void DuplicateNodeIdsAreReported()
    {
        var file = files.ExampleWith("{ \"id\": 1,", "{ \"id\": 0,");
        AssertBadInput(Show(file), file, "nodes[1].id: duplicate id 0");
    }

    [Fact]
    public void DistanceDiagonalMustBeTen()
    {
        var file = files.ExampleWith("[[10, 40], [40, 10]]", "[[10, 40], [40, 20]]");
        AssertBadInput(Show(file), file, "distances[1][1]: must be 10");
    }

    [Fact]
    public void UnknownInitiatorIsReported()
    {
        var file = files.ExampleWith("\"initiator\": 0", "\"initiator\": 5");
        AssertBadInput(Show(file), file, "nodes[1].initiator: no node has id 5");
    }

    [Fact]
    public void NullNodeIsReportedAtItsIndex()
    {
        var file = files.Topology("""{ "nodes": [ { "id": 0, "cpus": 1, "memoryMiB": 64 }, null ] }""");
        AssertBadInput(Show(file), file, "nodes[1]: expected an object, found null");
    }

    [Fact]
    public void MemberGivenTwiceIsRejected()
    {
        var file = files.ExampleWith("\"cpus\": 2,", "\"cpus\": 2, \"cpus\": 4,");
        AssertBadInput(Show(file), file, "nodes[0].cpus: given more than once");
    }

    [Fact]
    public void EveryBrokenRuleGetsItsOwnLine()
    {
        var file = files.ExampleWith("[[10, 40], [40, 10]]", "[[11, 40], [40, 12]]");
        var result = Show(file);
        AssertBadInput(result, file, "distances[0][0]", "distances[1][1]");
        Assert.Equal(2, result.Stderr.Trim().Split('\n').Length);
    }

    [Fact]
    public void MissingFileCannotBeRead()
    {
        var file = files.PathOf("no-such-topology.json");
        AssertBadInput(Show(file), file, "cannot read");
    }

    [Fact]
    public void GenerateValidatesBeforeWritingAnything()
    {
        var file = files.ExampleWith("\"initiator\": 0", "\"initiator\": 5");
        var outDir = files.PathOf("out");
        AssertBadInput(CliRun.InProcess("acpi", "generate", "--topology", file, "--out", outDir), file, "nodes[1].initiator");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void UnknownPlacementNamesTheFieldAndTheAllowedValues()
    {
        var file = files.ExampleWith("\"name\": \"two-node\",", "\"name\": \"two-node\", \"placement\": \"sideways\",");
        var result = Show(file);
        AssertBadInput(result, file,
            "placement: must be \"first-touch\", \"bind\" or \"interleave\", found \"sideways\"");
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void PlacementThatIsNotAStringIsAWrongType()
    {
        var file = files.ExampleWith("\"name\": \"two-node\",", "\"name\": \"two-node\", \"placement\": 1,");
        AssertBadInput(Show(file), file, "placement: expected a string, found 1");
    }

    [Theory]
    [InlineData("first-touch")]
    [InlineData("bind")]
    [InlineData("interleave")]
    public void EveryPlacementIsAccepted(string placement)
    {
        var file = files.ExampleWith("\"name\": \"two-node\",", $"\"name\": \"two-node\", \"placement\": \"{placement}\",");
        var withPlacement = Show(file);
        var without = Show(TestFiles.ExampleTopologyPath);
        Assert.True(withPlacement.ExitCode == 0, withPlacement.ToString());
        Assert.Equal("", withPlacement.Stderr);
        // The placement is the pager's business: the ACPI tables the guest sees do not change.
        Assert.Equal(without.Stdout, withPlacement.Stdout.Replace(file, TestFiles.ExampleTopologyPath));
    }

    [Fact]
    public void UnknownFieldsCommentsAndTrailingCommasAreAccepted()
    {
        var text = TestFiles.ExampleTopologyText
            .Replace("\"name\": \"two-node\",", "// a comment\n  \"name\": \"two-node\", \"owner\": { \"team\": \"lab\" },")
            .Replace("\"lineBytes\": 64 }", "\"lineBytes\": 64, }");
        var result = Show(files.Topology(text));
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
