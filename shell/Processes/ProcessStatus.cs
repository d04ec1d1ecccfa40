using System.Globalization;

namespace SsiHv.Shell.Processes;

/// <summary>Sizes a process's /proc/PID/status reports, in KiB (lines such as "VmRSS:\t   81234 kB").</summary>
public static class ProcessStatus
{
    /// `process`: a pid, or "self". A field the kernel does not show reads 0.
    public static Dictionary<string, long> KiB(string process, params string[] fields)
    {
        var values = File.ReadLines($"/proc/{process}/status")
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2 && fields.Contains(parts[0]))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
        foreach (var field in fields)
            values.TryAdd(field, 0);
        return values;
    }
}
