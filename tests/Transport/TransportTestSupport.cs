using System.Collections.Concurrent;
using System.Net;
using SsiHv.Core.Transport;
using SsiHv.Shell.Transport;
using SsiHv.Shell.Transport.Tcp;
using SsiHv.Tests.Support;
using Xunit.Abstractions;

namespace SsiHv.Tests.Transport;

/// <summary>A node's pages in a dictionary; refuses stores when told to, as a node over its memoryMiB would.</summary>
public sealed class MemoryPageService : IPageService
{
    readonly ConcurrentDictionary<ulong, byte[]> pages = new();

    public string? Refusal { get; set; }

    public void Put(ulong page, byte[] bytes) => pages[page] = bytes;

    public byte[]? Get(ulong page) => pages.TryGetValue(page, out var bytes) ? bytes : null;

    public void ReadPage(ulong page, Span<byte> destination)
    {
        if (pages.TryGetValue(page, out var bytes))
            bytes.CopyTo(destination);
        else
            destination.Clear();
    }

    public bool TryWritePage(ulong page, ReadOnlySpan<byte> source, out string? refusal)
    {
        refusal = Refusal;
        if (refusal is not null)
            return false;
        pages[page] = source.ToArray();
        return true;
    }
}

/// <summary>
/// A node's pager as the transport sees it: records each invalidation and holds it until the test drops the
/// copy (<see cref="Drop"/>); pages from <see cref="FirstBadPage"/> on are refused as outside guest memory.
/// </summary>
public sealed class HeldInvalidations : IInvalidationService
{
    readonly ConcurrentQueue<(ulong Page, int Requester)> seen = new();
    readonly TaskCompletionSource dropped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TaskCompletionSource arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ulong FirstBadPage { get; init; } = ulong.MaxValue;
    public IReadOnlyCollection<(ulong Page, int Requester)> Seen => seen;
    /// Completes at the first invalidation served.
    public Task Arrived => arrived.Task;

    public void Drop() => dropped.TrySetResult();

    public Task InvalidateAsync(ulong page, int requester)
    {
        if (page >= FirstBadPage)
            return Task.FromException(new ArgumentException($"page 0x{page:X} is not guest RAM of this VM"));
        seen.Enqueue((page, requester));
        arrived.TrySetResult();
        return dropped.Task;
    }
}

/// <summary>Log lines of one transport, kept for assertions and echoed to the test output.</summary>
public sealed class TransportLog(ITestOutputHelper output)
{
    readonly ConcurrentQueue<string> lines = new();

    public IReadOnlyCollection<string> Lines => lines;

    public void Write(string line)
    {
        lines.Enqueue(line);
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already finished: a late line from a background loop has no reader any more.
        }
    }

    public bool Contains(params string[] fragments) => lines.Any(line => fragments.All(line.Contains));

    /// Log lines come from transport threads: wait (bounded) until one with all fragments arrives.
    public Task WaitForAsync(TimeSpan timeout, params string[] fragments) =>
        Poll.UntilAsync($"a log line with {string.Join(", ", fragments.Select(f => $"'{f}'"))}", timeout,
            () => Task.FromResult(Contains(fragments)), () => $"the log:\n{string.Join("\n", lines)}");
}

public static class TransportTestSupport
{
    public static readonly ClusterSecret ClusterSecret = SecretOf("0123456789abcdef0123456789abcdef");

    public static ClusterSecret SecretOf(string text) =>
        ClusterSecretModule.tryCreate(System.Text.Encoding.ASCII.GetBytes(text)).ResultValue;

    public static TransportOptions Options(int self, IPageService pages, TransportLog log, ClusterSecret? secret = null, int port = 0) =>
        new(self, new IPEndPoint(IPAddress.Loopback, port), secret ?? ClusterSecret, pages) { Log = log.Write };

    /// A recognisable page: every byte derived from the page number and a salt.
    public static byte[] Pattern(ulong page, int salt = 0)
    {
        var bytes = new byte[WireFrame.PageLength];
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)((int)page * 31 + i * 7 + salt);
        return bytes;
    }

    public static string Address(INodeTransport transport) => transport.ListenEndpoint.ToString();
}
