namespace SsiHv.Tests.Support;

/// <summary>
/// Time limits of tests that run guests. In a lab machine (the lab's /init sets SSIHV_LAB_MACHINE=1) the CPU is
/// emulated by TCG and every VM exit of the nested KVM is expensive, so the same work takes many times longer
/// than on a host's own KVM (docs/lab.md). The limits are hang guards and bounds on a reaction, not speed goals
/// (those live in `ssihv bench`), so there they stretch by <see cref="Scale"/>.
/// </summary>
public static class TestTime
{
    public static bool InLabMachine { get; } = Environment.GetEnvironmentVariable("SSIHV_LAB_MACHINE") == "1";

    public static int Scale { get; } = InLabMachine ? 10 : 1;

    public static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds * Scale);

    public static TimeSpan Minutes(double minutes) => TimeSpan.FromMinutes(minutes * Scale);

    /// A `--timeout SECONDS` value for a command under test.
    public static string SecondsArgument(int seconds) => (seconds * Scale).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
