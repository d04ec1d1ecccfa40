using SsiHv.Shell.Up;
using Xunit;

namespace SsiHv.Tests.Up;

/// <summary>
/// Every test that builds a --netns network uses 10.213.0.0/24, which one network at a time may hold: the classes
/// of this collection run one after another, and each waits (bounded) for a run outside the tests to let go.
/// </summary>
[CollectionDefinition(Name)]
public sealed class NetworkNamespacesCollection
{
    public const string Name = "network namespaces";
    static readonly TimeSpan SubnetWait = TimeSpan.FromMinutes(5);

    /// Another `ssihv up --netns` on this machine (a person's) holds the subnet while it runs; tests wait for it
    /// to end rather than fail on its account.
    public static void WaitUntilSubnetIsFree()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? holder;
        while ((holder = NetworkNamespaces.SubnetHolder()) is not null && clock.Elapsed < SubnetWait)
            Thread.Sleep(500);
        Assert.True(holder is null, $"10.213.0.0/24 stayed in use by {holder} for {SubnetWait.TotalMinutes} min");
    }
}
