using System.Text.RegularExpressions;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// The kernel's warning and error lines (<see cref="NumaView.Problems"/>, raw <c>&lt;level&gt;[time] text</c>)
/// reduced to what two boots of the same kernel can share: without level and time, with every number, address
/// and register value replaced by <c>#</c>, so that a warning that QEMU's boot shows too matches ours.
/// </summary>
public static partial class KernelProblems
{
    [GeneratedRegex(@"^<\d+>(\[\s*\d+\.\d+\]\s?)?")]
    private static partial Regex LevelAndTime();

    [GeneratedRegex(@"(0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*")]
    private static partial Regex Number();

    public static string Normalize(string raw) => Number().Replace(LevelAndTime().Replace(raw, ""), "#").TrimEnd();

    /// <summary>Our lines that the reference's boot does not have (after <see cref="Normalize"/>), in our order.</summary>
    public static IReadOnlyList<string> Unmatched(IEnumerable<string> ours, IEnumerable<string> reference)
    {
        var known = reference.Select(Normalize).ToHashSet(StringComparer.Ordinal);
        return ours.Where(line => !known.Contains(Normalize(line))).ToList();
    }
}
