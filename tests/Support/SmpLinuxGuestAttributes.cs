using Xunit;

namespace SsiHv.Tests.Support;

/// <summary>
/// Tests that boot an SMP Linux guest: they run where KVM works and in a one-CPU lab machine, and are skipped,
/// with the reason, in a lab machine with several CPUs, whose nested SVM under TCG hangs or crashes SMP Linux
/// guests in about one boot of three (docs/lab.md, "Limits"). test.sh runs them in a one-CPU lab machine.
/// </summary>
static class SmpLinuxGuest
{
    public static string? SkipReason =>
        TestScale.InLabMachine && Environment.ProcessorCount > 1
            ? $"boots SMP Linux, which hangs or crashes in about one boot of three in a lab machine with more than one CPU (this one has {Environment.ProcessorCount}); run it in a one-CPU lab machine (docs/lab.md, Limits)"
            : null;
}

public sealed class SmpLinuxGuestFactAttribute : FactAttribute
{
    public SmpLinuxGuestFactAttribute() => Skip = SmpLinuxGuest.SkipReason;
}

public sealed class SmpLinuxGuestTheoryAttribute : TheoryAttribute
{
    public SmpLinuxGuestTheoryAttribute() => Skip = SmpLinuxGuest.SkipReason;
}
