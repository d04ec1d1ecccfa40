using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Transport.TransportTestSupport;

namespace SsiHv.Tests.Transport;

/// <summary>
/// TransportOptions.ReplyThreadCpu on real transports: the thread that reads a peer's replies runs on the CPU named,
/// as the kernel reports it in /proc, and a CPU the kernel refuses leaves it unpinned, logged, still serving.
/// Node numbers are this class's own, so that the thread names ("transport A->B") are unique in the test process.
/// </summary>
public sealed class ReplyThreadPlacementTests(ITestOutputHelper output)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_reply_thread_runs_on_the_CPU_named()
    {
        var cpu = Environment.ProcessorCount - 1;
        var allowed = await RunFetchAndReadAffinity(71, 72, cpu, new TransportLog(output));
        Assert.Equal(cpu.ToString(System.Globalization.CultureInfo.InvariantCulture), allowed);
    }

    [Fact]
    public async Task A_CPU_the_kernel_refuses_leaves_the_reply_thread_unpinned_and_logged()
    {
        var log = new TransportLog(output);
        var allowed = await RunFetchAndReadAffinity(73, 74, 1000, log);
        Assert.Equal(File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim(), allowed);
        Assert.True(log.Contains("transport 73->74: the receive thread stays unpinned", "CPU 1000"), string.Join("\n", log.Lines));
    }

    /// Fetches a page from `server` through a transport whose reply thread asks for `cpu`, then returns that thread's
    /// Cpus_allowed_list.
    static async Task<string> RunFetchAndReadAffinity(int client, int server, int cpu, TransportLog log)
    {
        var pages = new MemoryPageService();
        pages.Put(5, Pattern(5));
        await using var home = new TcpNodeTransport(Options(server, pages, log));
        await using var requester = new TcpNodeTransport(Options(client, new MemoryPageService(), log) with { ReplyThreadCpu = cpu });
        requester.SetPeer(server, Address(home));
        var read = new byte[WireFrame.PageLength];
        await requester.FetchPageAsync(server, 5, read).AsTask().WaitAsync(Timeout);
        Assert.Equal(Pattern(5), read);
        var name = $"transport {client}->{server}";
        var comm = name[..Math.Min(name.Length, 15)]; // the kernel keeps 15 bytes of a thread's name
        var task = Directory.GetDirectories("/proc/self/task")
            .SingleOrDefault(directory => File.ReadAllText(Path.Combine(directory, "comm")).TrimEnd('\n') == comm);
        Assert.True(task is not null, $"no thread named '{name}' in /proc/self/task");
        return File.ReadAllLines(Path.Combine(task, "status")).Single(line => line.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim();
    }
}
