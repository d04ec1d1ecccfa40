using SsiHv.Interop.Rdma;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>A fact that runs only where libibverbs finds an RDMA device, and says so when it is skipped.</summary>
public sealed class RdmaDeviceFactAttribute : FactAttribute
{
    public RdmaDeviceFactAttribute()
    {
        var devices = RdmaDevices.List();
        if (!devices.Any)
            Skip = $"no RDMA device: {devices.Summary}";
    }
}

public sealed class RdmaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Enumeration_through_libibverbs_works_and_the_factory_picks_the_matching_transport()
    {
        var devices = RdmaDevices.List();
        Assert.Null(devices.Problem); // libibverbs1 is installed by .ci/setup.sh, so the call itself must work
        output.WriteLine($"{devices.Summary} {string.Join(", ", devices.Names)}");
        Assert.All(devices.Names, name => Assert.False(string.IsNullOrWhiteSpace(name)));

        var log = new TransportLog(output);
        await using var transport = NodeTransport.Create(Options(1, new MemoryPageService(), log));
        if (devices.Any)
            Assert.IsNotType<TcpNodeTransport>(transport);
        else
        {
            Assert.IsType<TcpNodeTransport>(transport);
            Assert.True(log.Contains("using TCP", devices.Summary));
        }
    }

    [RdmaDeviceFact]
    public async Task Pages_round_trip_over_RDMA_between_two_transports_from_the_factory()
    {
        var log = new TransportLog(output);
        var pagesOfB = new MemoryPageService();
        await using var a = NodeTransport.Create(Options(1, new MemoryPageService(), log));
        await using var b = NodeTransport.Create(Options(2, pagesOfB, log));
        Assert.IsNotType<TcpNodeTransport>(a);
        a.SetPeer(2, Address(b));

        await a.StorePageAsync(2, 11, Pattern(11));
        Assert.Equal(Pattern(11), pagesOfB.Get(11));
        var read = new byte[4096];
        await a.FetchPageAsync(2, 11, read);
        Assert.Equal(Pattern(11), read);
    }
}
