namespace SsiHv.Tests.Support;

/// <summary>
/// Time limits and guest sizes of tests that run guests. In a lab machine (the lab's /init sets
/// SSIHV_LAB_MACHINE=1) the CPU is emulated by TCG and every VM exit of the nested KVM is expensive, so the same
/// work takes many times longer than on a host's own KVM (docs/lab.md). There the limits, which are hang guards
/// and bounds on a reaction rather than speed goals (those live in `ssihv bench`), stretch by
/// <see cref="Scale"/>, and guests that page every byte over a transport shrink by <see cref="MemoryDivisor"/>,
/// so the suite fits CI's time; what is checked stays the same.
/// </summary>
public static class TestScale
{
    public static bool InLabMachine { get; } = Environment.GetEnvironmentVariable("SSIHV_LAB_MACHINE") == "1";

    public static int Scale { get; } = InLabMachine ? 10 : 1;

    public static int MemoryDivisor { get; } = InLabMachine ? 8 : 1;

    public static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds * Scale);

    public static TimeSpan Minutes(double minutes) => TimeSpan.FromMinutes(minutes * Scale);

    /// A `--timeout SECONDS` value for a command under test.
    public static string SecondsArgument(int seconds) => (seconds * Scale).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// A guest node's memory: as given on a host's own KVM, an eighth of it (at least 8 MiB) in a lab machine.
    public static long GuestMiB(long mib) => Math.Max(8, mib / MemoryDivisor);

    /// A number of pages that scales with <see cref="GuestMiB"/>.
    public static long Pages(long pages) => pages / MemoryDivisor;
}
