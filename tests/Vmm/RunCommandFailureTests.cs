using SsiHv.Tests.Cli;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Vmm;

/// <summary>
/// `ssihv run` on bad input exits 2 with a message naming the problem, and a guest that crashes or never
/// stops exits 1 with a report, never a hang or a stack trace.
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class RunCommandFailureTests(ITestOutputHelper output) : IDisposable
{
    readonly TestFiles files = new();
    static string TwoNode => TestFiles.TopologyPath("two-node");

    CliResult Run(params string[] args)
    {
        var result = CliRun.AsProcess(TestScale.Minutes(2), ["run", .. args]);
        output.WriteLine(result.ToString());
        Assert.DoesNotContain("   at ", result.Stderr);
        return result;
    }

    [Fact]
    public void A_missing_kernel_file_is_bad_input_naming_the_file()
    {
        var missing = files.PathOf("no-such-kernel");
        var result = Run("--topology", TwoNode, "--kernel", missing);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(missing, result.Stderr);
        Assert.Contains("cannot read", result.Stderr);
    }

    [Fact]
    public void A_file_that_is_no_kernel_is_bad_input()
    {
        var notKernel = files.PathOf("notes.txt");
        File.WriteAllText(notKernel, "this is not a kernel\n");
        var result = Run("--topology", TwoNode, "--kernel", notKernel);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{notKernel} is not a Linux bzImage", result.Stderr);
    }

    [Fact]
    public void An_elf_without_a_pvh_note_is_bad_input()
    {
        var result = Run("--topology", TwoNode, "--kernel", "/bin/true");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("/bin/true", result.Stderr);
        Assert.Contains("XEN_ELFNOTE_PHYS32_ENTRY", result.Stderr);
    }

    [Fact]
    public void Memory_too_small_for_the_kernel_is_bad_input()
    {
        var tiny = files.Topology("""{ "nodes": [ { "id": 0, "cpus": 1, "memoryMiB": 16 } ] }""");
        var result = Run("--topology", tiny, "--kernel", GuestImages.Get().CompressedKernelPath);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("memory too small", result.Stderr);
    }

    [Fact]
    public void A_topology_error_is_bad_input_naming_the_field()
    {
        var broken = files.Topology("""{ "nodes": [ { "id": 0, "cpus": 1 } ] }""");
        var result = Run("--topology", broken, "--guest", "probe");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{broken}: nodes[0].memoryMiB: required", result.Stderr);
    }

    [Fact]
    public void Kernel_and_guest_together_are_bad_input()
    {
        var result = Run("--topology", TwoNode, "--guest", "probe", "--kernel", "/bin/true");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("exactly one of --kernel FILE or --guest probe", result.Stderr);
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_crashing_guest_fails_with_its_registers_and_the_instruction_bytes_at_rip()
    {
        // ud2 with no IDT: #UD, then #DF, then a triple fault. What the registers then show depends on the CPU vendor.
        var kernel = TinyPvhGuest.Build(files.Directory, "crash", "ud2");
        var result = Run("--topology", TwoNode, "--kernel", kernel, "--timeout", TestScale.SecondsArgument(60));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the guest failed", result.Stderr);
        Assert.Contains("triple fault (KVM_EXIT_SHUTDOWN)", result.Stderr);
        if (File.ReadAllText("/proc/cpuinfo").Contains("AuthenticAMD"))
        {
            // kvm-amd re-initialises a vCPU after a shutdown intercept: the report must say so, not show the reset
            // registers as the place of the crash.
            Assert.Contains("RIP 000000000000FFF0", result.Stderr);
            Assert.Contains("kvm-amd resets a vCPU on a triple fault", result.Stderr);
            Assert.DoesNotContain("bytes at RIP", result.Stderr);
        }
        else
        {
            Assert.Contains("RIP 0000000000200000", result.Stderr);
            Assert.Contains("bytes at RIP (guest-physical 0x200000): 0F0B", result.Stderr);
        }
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_guest_that_never_stops_is_stopped_at_the_timeout()
    {
        var kernel = TinyPvhGuest.Build(files.Directory, "spin", "1: jmp 1b");
        var started = DateTime.UtcNow;
        var result = Run("--topology", TwoNode, "--kernel", kernel, "--timeout", "3");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("still running after 3 s", result.Stderr);
        Assert.True(DateTime.UtcNow - started < TestScale.Seconds(30), "stopping took too long");
    }

    public void Dispose() => files.Dispose();
}
