using SsiHv.Core.Acpi;

namespace SsiHv.Shell.Cli;

/// <summary>Renders the NUMA machine decoded from SRAT/SLIT/HMAT as text for people (<c>acpi show</c>).</summary>
public static class NumaViewText
{
    public static void Write(NumaView.NumaView view, TextWriter output)
    {
        WriteNodes(view, output);
        WriteCpus(view, output);
        WriteRanges(view, output);
        WriteDistances(view, output);
        WriteAccess(view, output, "HMAT access latency (ns)", a => a.LatencyNs);
        WriteAccess(view, output, "HMAT access bandwidth (MB/s)", a => a.BandwidthMBps);
        WriteCaches(view, output);
    }

    static void WriteNodes(NumaView.NumaView view, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"Nodes (SRAT proximity domains): {view.Nodes.Length}");
        foreach (var node in view.Nodes)
        {
            var cpus = node.ApicIds.IsEmpty ? "no CPUs" : $"{node.ApicIds.Length} CPU{(node.ApicIds.Length == 1 ? "" : "s")}";
            var initiator = node.Initiator is null ? "" : $", initiator node {node.Initiator.Value} (HMAT)";
            output.WriteLine($"  node {node.Domain}: {cpus}, {Size(node.MemoryBytes)} memory{initiator}");
        }
    }

    static void WriteCpus(NumaView.NumaView view, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("CPUs (APIC ID -> node):");
        var cpus = view.Nodes.SelectMany(n => n.ApicIds.Select(apic => (Apic: apic, Node: n.Domain))).OrderBy(c => c.Apic);
        foreach (var cpu in cpus)
            output.WriteLine($"  APIC ID {cpu.Apic,3} -> node {cpu.Node}");
    }

    static void WriteRanges(NumaView.NumaView view, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("Memory ranges (SRAT):");
        var ranges = view.Nodes.SelectMany(n => n.Ranges.Select(r => (Node: n.Domain, Base: r.Item1, Length: r.Item2)))
            .OrderBy(r => r.Base);
        foreach (var range in ranges)
            output.WriteLine($"  node {range.Node}: 0x{range.Base:X12}-0x{range.Base + range.Length - 1:X12}  {Size(range.Length)}");
    }

    static void WriteDistances(NumaView.NumaView view, TextWriter output)
    {
        output.WriteLine();
        if (view.Distances is null)
        {
            output.WriteLine("Distances: no SLIT");
            return;
        }
        var rows = view.Distances.Value.Select(row => row.Select(d => (ulong?)(ulong)d).ToList()).ToList();
        var nodes = Enumerable.Range(0, rows.Count).Select(i => (uint)i).ToList();
        WriteMatrix(output, "Distances (SLIT), from row to column:", "from", "to", nodes, nodes, (i, j) => rows[(int)i][(int)j]);
    }

    static void WriteAccess(NumaView.NumaView view, TextWriter output, string title, Func<NumaView.AccessView, Microsoft.FSharp.Core.FSharpOption<ulong>?> value)
    {
        output.WriteLine();
        var values = view.Access
            .Where(a => value(a) is not null)
            .ToDictionary(a => (a.Initiator, a.Target), a => value(a)!.Value);
        if (values.Count == 0)
        {
            output.WriteLine($"{title}: none");
            return;
        }
        var initiators = values.Keys.Select(k => k.Initiator).Distinct().Order().ToList();
        var targets = values.Keys.Select(k => k.Target).Distinct().Order().ToList();
        WriteMatrix(output, $"{title}, initiator row to memory column:", "initiator", "memory", initiators, targets,
            (i, t) => values.TryGetValue((i, t), out var v) ? v : null);
    }

    static void WriteCaches(NumaView.NumaView view, TextWriter output)
    {
        output.WriteLine();
        if (view.Caches.IsEmpty)
        {
            output.WriteLine("Memory-side caches (HMAT): none");
            return;
        }
        output.WriteLine("Memory-side caches (HMAT):");
        foreach (var cache in view.Caches)
            output.WriteLine(
                $"  node {cache.Domain}: level {cache.Level} of {cache.TotalLevels}, {Size(cache.SizeBytes)}, "
                + $"{Associativity(cache.Associativity)}, {WritePolicy(cache.WritePolicy)}, {cache.LineBytes}-byte lines");
    }

    /// A labelled matrix; a missing entry shows as "-" (HMAT leaves entries out for memory-less targets).
    static void WriteMatrix(TextWriter output, string title, string rowLabel, string columnLabel,
        IReadOnlyList<uint> rows, IReadOnlyList<uint> columns, Func<uint, uint, ulong?> value)
    {
        output.WriteLine(title);
        var cells = rows.Select(r => columns.Select(c => value(r, c)?.ToString() ?? "-").ToList()).ToList();
        var width = Math.Max(
            columns.Max(c => $"{columnLabel} {c}".Length),
            cells.SelectMany(row => row).Max(cell => cell.Length));
        var labelWidth = rows.Max(r => $"{rowLabel} {r}".Length);
        output.WriteLine("  " + new string(' ', labelWidth) + string.Concat(columns.Select(c => "  " + $"{columnLabel} {c}".PadLeft(width))));
        for (var i = 0; i < rows.Count; i++)
            output.WriteLine("  " + $"{rowLabel} {rows[i]}".PadRight(labelWidth) + string.Concat(cells[i].Select(cell => "  " + cell.PadLeft(width))));
    }

    /// In the largest binary unit not above the value: whole when exact, otherwise rounded and followed by the
    /// exact byte count, so nothing the guest sees is hidden by rounding.
    public static string Size(ulong bytes)
    {
        var units = new[] { (1UL << 40, "TiB"), (1UL << 30, "GiB"), (1UL << 20, "MiB"), (1UL << 10, "KiB") };
        foreach (var (unit, name) in units)
        {
            if (bytes >= unit)
                return bytes % unit == 0 ? $"{bytes / unit} {name}" : $"{(double)bytes / unit:0.00} {name} ({bytes} bytes)";
        }
        return $"{bytes} bytes";
    }

    // HMAT cache attribute encodings (ACPI 6.5 table 5.153).
    static string Associativity(int code) => code switch
    {
        0 => "no cache indexing",
        1 => "direct-mapped",
        2 => "complex cache indexing",
        _ => $"associativity code {code}",
    };

    static string WritePolicy(int code) => code switch
    {
        0 => "no write policy",
        1 => "write-back",
        2 => "write-through",
        _ => $"write policy code {code}",
    };
}
