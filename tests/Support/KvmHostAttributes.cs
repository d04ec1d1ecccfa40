using Xunit;

namespace SsiHv.Tests.Support;

/// <summary>
/// Tests that boot SMP Linux need a host's own KVM: they run where KVM works and are skipped, with the reason,
/// where the guest would run under a lab machine's nested SVM, which crashes or hangs SMP Linux guests too often
/// to judge them there (docs/lab.md, "Limits"). test.sh counts them as skipped in its closing line.
/// </summary>
static class KvmHost
{
    public const string LabReason =
        "needs a host's own KVM: in lab machines nested SVM under TCG now and then delivers a guest interrupt twice, and SMP Linux (QEMU's too) crashes ('BUG: ENTRY_TRAMPOLINE stack guard page was hit') or hangs in about one boot of three or four (docs/lab.md, Limits)";
}

public sealed class KvmHostFactAttribute : FactAttribute
{
    public KvmHostFactAttribute()
    {
        if (TestScale.InLabMachine)
            Skip = KvmHost.LabReason;
    }
}

public sealed class KvmHostTheoryAttribute : TheoryAttribute
{
    public KvmHostTheoryAttribute()
    {
        if (TestScale.InLabMachine)
            Skip = KvmHost.LabReason;
    }
}
