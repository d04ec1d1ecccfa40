using System.Diagnostics;
using System.Text;
using SsiHv.Shell.Topology;
using SsiHv.Tests.Cli;
using SsiHv.Tests.LinuxGuest;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.SlowLinux;

/// <summary>
/// Debian's Linux under our own VMM: the ELF <c>vmlinux</c> booted through PVH by <c>ssihv run</c> on this host's
/// KVM, with the two-node topology's ACPI tables. The kernel's early log must show our SRAT exactly as the
/// topology says. Slow and outside the default suite (<c>Category=Slow</c>): on this host (kvm_pvm, DESIGN.md §5)
/// the kernel runs its CPL0 code emulated, needs about a minute to reach the SRAT and then dies on an instruction
/// KVM cannot emulate here; the test passes either way and reports which instruction stopped it. On a VT-x/SVM
/// host Linux runs on into the initramfs.
/// </summary>
[Trait("Category", "Slow")]
[Collection(VmmTestCollection.Name)]
public sealed class LinuxUnderOurVmmTests(ITestOutputHelper output)
{
    const string CommandLine = "earlyprintk=serial,ttyS0,115200 console=ttyS0 ignore_loglevel panic=-1";
    /// The VMM's own limit: it stops the VM (every vCPU out of KVM_RUN) and exits 1 when it passes.
    const int VmTimeoutSeconds = 300;
    /// The test's limit for the whole process, beyond the VMM's: only a hung VMM reaches it.
    static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(VmTimeoutSeconds + 60);
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void Linux_booted_through_PVH_by_our_VMM_prints_the_topologys_SRAT()
    {
        var images = GuestImages.Get();
        var topologyPath = Path.Combine(TestFiles.RepoRoot, "tests", "topologies", "two-node.json");
        Assert.True(TopologyFile.TryLoad(topologyPath, out var topology, out var problems), string.Join('\n', problems));
        var expectedMemory = ExpectedSratLog.MemoryLines(topology);
        var expectedCpus = ExpectedSratLog.CpuLines(topology);

        using var files = new TestFiles();
        var consolePath = files.PathOf("console.log");
        var run = Run(consolePath,
            log => ExpectedSratLog.MemoryLinesIn(log).Count >= expectedMemory.Count,
            ["run", "--topology", topologyPath, "--kernel", images.KernelPath, "--initrd", images.InitramfsPath,
             "--append", CommandLine, "--timeout", VmTimeoutSeconds.ToString(), "--console", consolePath]);

        var stopped = StoppingInstruction.FromReport(run.Stderr);
        output.WriteLine($"kernel {images.KernelVersion}: {images.KernelPath}, initrd {images.InitramfsPath}");
        output.WriteLine($"ssihv run exited {run.ExitCode} after {run.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(run.FirstConsoleOutput is { } first ? $"first console output after {first.TotalSeconds:F1} s" : "no console output at all");
        output.WriteLine(run.WatchedFor is { } srat ? $"all {expectedMemory.Count} SRAT memory lines after {srat.TotalSeconds:F1} s" : "the SRAT memory lines never (all) appeared");
        output.WriteLine(stopped is null
            ? "no failure report: the guest powered off, reset or ran until --timeout (see stdout/stderr below)"
            : $"Linux was stopped by: {stopped}");
        output.WriteLine($"--- last console lines\n{string.Join('\n', LastLines(run.Console, 15))}");
        output.WriteLine($"--- stdout\n{run.Stdout}--- stderr\n{run.Stderr}");

        Assert.True(run.ExitCode is 0 or 1, $"ssihv run exited {run.ExitCode}: {run.Stderr}");
        Assert.True(run.FirstConsoleOutput is not null,
            "Linux printed nothing on COM1: earlyprintk=serial never reached our 8250. " + run.Stderr);
        Assert.Equal(expectedMemory, ExpectedSratLog.MemoryLinesIn(run.Console));
        Assert.Equal(expectedCpus, ExpectedSratLog.CpuLinesIn(run.Console));
    }

    sealed record VmRun(int ExitCode, string Stdout, string Stderr, string Console, TimeSpan Elapsed, TimeSpan? FirstConsoleOutput, TimeSpan? WatchedFor);

    /// Runs <c>dotnet ssihv.dll ARGS</c>, watching the console file while it runs so that the time to the first
    /// output and to the log `watch` waits for can be reported.
    static VmRun Run(string consolePath, Func<string, bool> watch, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        // .NET on Linux takes an flock on files it opens; without this the VMM's exclusive lock on the console
        // file would keep the test from reading it while the guest runs.
        start.Environment["DOTNET_SYSTEM_IO_DISABLEFILELOCKING"] = "1";
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ssihv.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet ssihv.dll");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        TimeSpan? first = null, watched = null;
        try
        {
            while (!process.WaitForExit(PollInterval))
            {
                if (clock.Elapsed > ProcessTimeout)
                    throw new TimeoutException($"ssihv run did not stop within {ProcessTimeout.TotalSeconds} s although --timeout {VmTimeoutSeconds} was given");
                var log = ReadShared(consolePath);
                if (first is null && log.Length > 0)
                    first = clock.Elapsed;
                if (watched is null && log.Length > 0 && watch(log))
                    watched = clock.Elapsed;
            }
        }
        finally
        {
            // Whatever ends the test early, the VM must not outlive it.
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
        }
        var elapsed = clock.Elapsed;
        var console = ReadShared(consolePath);
        if (console.Length > 0)
        {
            first ??= elapsed;
            if (watched is null && watch(console))
                watched = elapsed;
        }
        return new VmRun(process.ExitCode, stdout.Result, stderr.Result, console, elapsed, first, watched);
    }

    /// The console file as written so far; the VMM holds it open for writing.
    static string ReadShared(string path)
    {
        if (!File.Exists(path))
            return "";
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return ""; // not readable yet; the next poll (or the read after exit) sees it
        }
    }

    static IEnumerable<string> LastLines(string text, int count) =>
        text.TrimEnd('\n').Split('\n').TakeLast(count);
}
