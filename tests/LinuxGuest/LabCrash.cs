using SsiHv.Tests.Support;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// The lab machine's own fault, told apart from ours. Nested SVM under TCG now and then delivers a guest
/// interrupt a second time at the first instruction of its handler, with IF clear and before the handler's
/// SWAPGS: Linux then reads its per-CPU area through the user's GS base, faults, and recurses through the page
/// fault handler until "BUG: ENTRY_TRAMPOLINE stack guard page was hit". QEMU <c>-accel kvm</c> booting the same
/// kernel in the same lab machine crashes the same way (docs/lab.md, Limits), and on hosts with their own KVM it
/// never happens. So in a lab machine, and only there, a Linux boot that ends with that line is booted again, at
/// most <see cref="MaxAttempts"/> times in all, and each crashed attempt is written to the test's output. Any
/// other failure counts at once.
/// </summary>
public static class LabCrash
{
    public const string Signature = "BUG: ENTRY_TRAMPOLINE stack guard page was hit";
    public const int MaxAttempts = 3;

    public static bool Shows(IEnumerable<string> console) =>
        console.Any(line => line.Contains(Signature, StringComparison.Ordinal));

    /// Boots until an attempt does not end with the lab's crash, shown in its console or thrown as a
    /// <see cref="LabCrashException"/> (or the attempts are used up: the last one's outcome is the test's).
    public static T Retry<T>(Func<T> boot, Func<T, IEnumerable<string>> console, Action<string> log)
    {
        for (var attempt = 1; ; attempt++)
        {
            var again = TestScale.InLabMachine && attempt < MaxAttempts;
            try
            {
                var result = boot();
                if (!again || !Shows(console(result)))
                    return result;
            }
            catch (LabCrashException) when (again)
            {
            }
            log($"attempt {attempt} of {MaxAttempts}: the guest hit the lab machine's interrupt crash ('{Signature}'); booting again");
        }
    }
}

/// <summary>A boot that ended with <see cref="LabCrash.Signature"/> before its report was complete.</summary>
public sealed class LabCrashException(string message) : InvalidOperationException(message);
