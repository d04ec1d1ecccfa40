using System.Runtime.Versioning;
using SsiHv.Shell.Assets;
using SsiHv.Tests.Cli;
using Xunit;

namespace SsiHv.Tests.Assets;

/// <summary>
/// What ssihv ships besides its assemblies, found through its own lookup (<see cref="ProductAssets"/>) in the
/// directory it runs from: here the tests' output directory, which the build fills as it fills ssihv's. No
/// source tree is consulted, so what passes here passes for an installed copy.
/// </summary>
public sealed class ProductAssetsTests
{
    static string AssetsDirectory => Path.Combine(AppContext.BaseDirectory, "assets");

    [Fact]
    public void Every_asset_is_found_under_assets_next_to_ssihv()
    {
        string[] assets =
        [
            ProductAssets.ProbeGuest, ProductAssets.FaultGuest, ProductAssets.FaultReference, ProductAssets.RemoteFaultReference,
            ProductAssets.TransportReference, ProductAssets.ChildRusage, ProductAssets.ExampleTopology("two-node.json"), ProductAssets.ExampleTopology("one-node.json"),
        ];
        foreach (var asset in assets)
        {
            Assert.StartsWith(AssetsDirectory + Path.DirectorySeparatorChar, asset);
            Assert.True(File.Exists(asset), asset);
        }
    }

    [Fact]
    public void The_probe_guest_is_an_elf()
    {
        var header = File.ReadAllBytes(ProductAssets.ProbeGuest)[..4];
        Assert.Equal("\u007fELF"u8.ToArray(), header);
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void The_c_references_keep_their_execute_permission()
    {
        foreach (var executable in new[] { ProductAssets.FaultReference, ProductAssets.RemoteFaultReference, ProductAssets.TransportReference, ProductAssets.ChildRusage })
            Assert.True(File.GetUnixFileMode(executable).HasFlag(UnixFileMode.UserExecute), $"{executable} is not executable");
    }

    [Theory]
    [InlineData("two-node.json")]
    [InlineData("one-node.json")]
    public void The_shipped_topologies_are_the_examples(string fileName) =>
        Assert.Equal(File.ReadAllText(Path.Combine(TestFiles.RepoRoot, "examples", fileName)), File.ReadAllText(ProductAssets.ExampleTopology(fileName)));

    [Fact]
    public void A_missing_asset_names_its_path_and_how_the_build_makes_it()
    {
        var missing = Assert.Throws<MissingAssetException>(() => ProductAssets.ExampleTopology("no-such-topology.json"));
        Assert.Contains(Path.Combine(AssetsDirectory, "topologies", "no-such-topology.json"), missing.Message);
        Assert.Contains("examples/", missing.Message);
        Assert.Contains("dotnet build shell", missing.Message);
    }
}
