using System.Globalization;
using System.Text.Json;

namespace SsiHv.Shell.Up;

/// <summary>The end-of-run report of `ssihv up`, rendered from GET /v1/pages and GET /v1/vm.</summary>
public static class ClusterSummary
{
    public static IReadOnlyList<string> Lines(VmReply vm, PagesReply pages)
    {
        var lines = new List<string> { GuestEnd(vm), "pages per node:" };
        var rows = pages.Nodes.OrderBy(n => n.Id)
            .Select(n => new[] { n.Id.ToString(CultureInfo.InvariantCulture), Count(n.PagesHomed), Count(n.PagesStored), Count(n.PagesResident) })
            .Prepend(["node", "homed", "stored", "resident"])
            .ToList();
        var widths = Enumerable.Range(0, 4).Select(c => rows.Max(r => r[c].Length)).ToArray();
        lines.AddRange(rows.Select(r => "  " + string.Join("  ", r.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c])))));

        var latency = pages.RemoteFaultLatencyMicroseconds;
        lines.Add(latency?.P50 is { } p50 && latency.P99 is { } p99
            ? $"remote fault latency: p50 {Micros(p50)}, p99 {Micros(p99)}"
            : "remote fault latency: no remote faults");
        if (pages.Faults is { ValueKind: JsonValueKind.Object } faults)
            lines.Add("faults: " + string.Join(", ", faults.EnumerateObject().Select(f => $"{f.Name} {f.Value}")));

        var peers = pages.Peers ?? [];
        lines.Add(peers.Count == 0 ? "bytes moved per peer: none" : "bytes moved per peer:");
        lines.AddRange(peers.OrderBy(p => p.Node).Select(p =>
            $"  node {p.Node}: sent {Bytes(p.BytesSent)}, received {Bytes(p.BytesReceived)}{(p.Fetches is { } fetches ? $"; fetches over {fetches}" : "")}"));
        return lines;
    }

    /// Exit code 0 is a power-off or a reset (a panicking Linux resets with panic=-1): the reason tells which.
    public static string GuestEnd(VmReply vm) =>
        vm.ExitCode == 0
            ? vm.Reason ?? "the guest ended without a reason given"
            : $"the guest failed (exit code {vm.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}): {vm.Reason ?? "no reason given"}";

    static string Count(long pages) => pages.ToString("N0", CultureInfo.InvariantCulture);

    static string Micros(double value) => value.ToString("0.#", CultureInfo.InvariantCulture) + " µs";

    static string Bytes(long bytes) =>
        bytes < 1 << 20
            ? $"{bytes.ToString("N0", CultureInfo.InvariantCulture)} B"
            : $"{(bytes / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture)} MiB";
}
