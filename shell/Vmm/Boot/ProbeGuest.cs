using System.Diagnostics;

namespace SsiHv.Shell.Vmm.Boot;

/// <summary>
/// The probe guest (docs/design.md §4.8, guests/probe/README.md) is built from its C sources with gcc when it is asked for, so the binary
/// always matches the checkout. The sources are found next to the ssihv build (walking up to the repository
/// root) or through SSIHV_PROBE_SOURCE.
/// </summary>
public static class ProbeGuest
{
    public const string SourceVariable = "SSIHV_PROBE_SOURCE";
    static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(2);
    static readonly object BuildLock = new();

    public static string SourceDirectory()
    {
        if (Environment.GetEnvironmentVariable(SourceVariable) is { Length: > 0 } configured)
            return File.Exists(Path.Combine(configured, "Makefile"))
                ? configured
                : throw new BootInputException($"{SourceVariable}={configured} has no Makefile");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "guests", "probe");
            if (File.Exists(Path.Combine(candidate, "Makefile")))
                return candidate;
        }
        throw new BootInputException($"cannot find the probe guest's sources (guests/probe) above {AppContext.BaseDirectory}; set {SourceVariable}");
    }

    /// Runs make (incremental: a second call costs a few ms) and returns the ELF's path. Under flock(1) on a
    /// lock file in the source directory: node hosts, `up` and the tests are separate processes that may build
    /// at the same moment, and one must not boot an ELF another is still writing.
    public static string Build()
    {
        var source = SourceDirectory();
        lock (BuildLock)
        {
            var start = new ProcessStartInfo("flock") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("--timeout");
            start.ArgumentList.Add(((int)BuildTimeout.TotalSeconds).ToString());
            start.ArgumentList.Add(Path.Combine(source, ".build.lock"));
            start.ArgumentList.Add("make");
            start.ArgumentList.Add("-s");
            start.ArgumentList.Add("-C");
            start.ArgumentList.Add(source);
            using var make = Process.Start(start) ?? throw new VmFailureException("cannot start flock and make (apt-get install util-linux make gcc)");
            var stdout = make.StandardOutput.ReadToEndAsync();
            var stderr = make.StandardError.ReadToEndAsync();
            if (!make.WaitForExit(BuildTimeout))
            {
                make.Kill(entireProcessTree: true);
                throw new VmFailureException($"building the probe guest in {source} took longer than {BuildTimeout.TotalSeconds} s");
            }
            if (make.ExitCode != 0)
                throw new VmFailureException($"building the probe guest in {source} failed:\n{stdout.Result}{stderr.Result}");
        }
        return Path.Combine(source, "build", "probe.elf");
    }
}
