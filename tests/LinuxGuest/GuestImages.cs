using System.Diagnostics;

namespace SsiHv.Tests.LinuxGuest;

/// <summary>
/// The Linux guest built by <c>tests/linux-guest/build.sh</c> into <c>&lt;repo&gt;/.guest-cache/</c>.
/// </summary>
/// <param name="CompressedKernelPath">Debian's bzImage (<c>vmlinuz</c>).</param>
/// <param name="KernelPath">The ELF <c>vmlinux</c> inside it; QEMU boots it through its PVH note.</param>
/// <param name="InitramfsPath">busybox plus the reporting <c>/init</c> (<c>tests/linux-guest/init.sh</c>).</param>
/// <param name="NumaMemtestInitramfsPath">The NUMA memtest guest's initramfs (<c>guests/linux-numa-memtest</c>).</param>
/// <param name="KernelVersion">The kernel release, e.g. <c>6.1.0-56-amd64</c>.</param>
public sealed record GuestImages(
    string CompressedKernelPath,
    string KernelPath,
    string InitramfsPath,
    string NumaMemtestInitramfsPath,
    string KernelVersion)
{
    static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);

    // build.sh is idempotent but not safe to run twice at once, and its cheap path still costs a few
    // process starts: run it once per test run, whichever test asks first.
    static readonly Lazy<GuestImages> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Builds the guest on first use (once per process) and returns its paths.</summary>
    public static GuestImages Get() => Built.Value;

    /// <summary>The directory holding <c>SsiHv.sln</c>, found by walking up from the test assembly.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SsiHv.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException(
            $"SsiHv.sln not found in any parent of {AppContext.BaseDirectory}");
    }

    static GuestImages Build()
    {
        var script = Path.Combine(RepoRoot, "tests", "linux-guest", "build.sh");
        var start = new ProcessStartInfo("bash")
        {
            ArgumentList = { script },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)
            ?? throw new InvalidOperationException($"could not start bash {script}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(BuildTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{script} did not finish within {BuildTimeout}");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{script} failed with exit code {process.ExitCode}\n" +
                $"--- stdout ---\n{stdout.Result}\n--- stderr ---\n{stderr.Result}");
        }

        var cache = Path.Combine(RepoRoot, ".guest-cache");
        return new GuestImages(
            CompressedKernelPath: Path.Combine(cache, "vmlinuz"),
            KernelPath: Path.Combine(cache, "vmlinux"),
            InitramfsPath: Path.Combine(cache, "initramfs.cpio.gz"),
            NumaMemtestInitramfsPath: Path.Combine(cache, "numa-memtest.cpio.gz"),
            KernelVersion: File.ReadAllText(Path.Combine(cache, "vmlinuz.version")).Trim());
    }
}
