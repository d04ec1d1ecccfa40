using System.Diagnostics;
using SsiHv.Core.Lab;
using SsiHv.Shell.Lab;
using SsiHv.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Lab;

/// <summary>Serializes the tests that boot lab machines: each is a TCG process that wants a whole host core.</summary>
[CollectionDefinition(Name)]
public sealed class LabMachineCollection
{
    public const string Name = "lab machines";
}

/// <summary>
/// `ssihv lab exec` and `ssihv lab prepare` as a user runs them: real QEMU, the real lab image built from Debian's
/// kernel package, the command's output and exit code round trip, every bound (boot, command, Ctrl-C) and that
/// nothing is left behind: each run gets its own TMPDIR, which must be empty afterwards, and no QEMU of it may
/// survive.
/// </summary>
[Collection(LabMachineCollection.Name)]
public sealed class LabMachineTests(ITestOutputHelper output) : IDisposable
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    readonly DirectoryInfo scratch = Directory.CreateTempSubdirectory("ssihv-lab-test-");

    public void Dispose() => scratch.Delete(recursive: true);

    ProcessResult Ssihv(params string[] args)
    {
        var (program, arguments) = SsihvCommand.For(args);
        var result = ExternalProcess.Run(
            program, arguments, Patience,
            environment: new Dictionary<string, string> { ["TMPDIR"] = scratch.FullName });
        output.WriteLine(result.ToString());
        return result;
    }

    void AssertNothingLeftBehind()
    {
        Assert.Empty(scratch.GetFileSystemInfos());
        var survivors = Process.GetProcessesByName("qemu-system-x86_64")
            .Where(p => File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(scratch.FullName, StringComparison.Ordinal))
            .Select(p => p.Id)
            .ToList();
        Assert.Empty(survivors);
    }

    [Fact]
    public void The_command_runs_with_kvm_its_output_and_exit_code_come_back_and_nothing_is_left()
    {
        // 100,000 numbers (about 590 KB) on stdout must arrive whole and in order; stderr separately.
        var result = Ssihv("lab", "exec", "--", "sh", "-c",
            "test -c /dev/kvm && echo kvm-present; seq 1 100000; echo to-stderr >&2; pwd; exit 7");
        Assert.Equal(7, result.ExitCode);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("kvm-present", lines[0]);
        Assert.Equal(Enumerable.Range(1, 100000).Select(i => i.ToString()), lines[1..100001]);
        Assert.Equal(Environment.CurrentDirectory, lines[100001]);
        Assert.Contains("to-stderr", result.Stderr);
        Assert.DoesNotContain("to-stderr", result.Stdout);
        AssertNothingLeftBehind();
    }

    [Fact]
    public void The_environment_reaches_the_command_and_only_writable_shares_change_the_host()
    {
        var shared = scratch.CreateSubdirectory("shared");
        var readOnly = Path.Combine(Path.GetTempPath(), $"ssihv-lab-readonly-{Guid.NewGuid():N}");
        Directory.CreateDirectory(readOnly);
        try
        {
            var (program, arguments) = SsihvCommand.For(
                "lab", "exec", "--writable", shared.FullName, "--", "sh", "-c",
                $"echo \"$SSIHV_LAB_TEST_VALUE\" > {shared.FullName}/written && echo overlay > {readOnly}/discarded && cat {readOnly}/discarded");
            var result = ExternalProcess.Run(
                program, arguments,
                Patience,
                environment: new Dictionary<string, string> { ["SSIHV_LAB_TEST_VALUE"] = "it's \"quoted\" $HOME" });
            output.WriteLine(result.ToString());
            Assert.Equal(0, result.ExitCode);
            Assert.Equal("it's \"quoted\" $HOME\n", File.ReadAllText(Path.Combine(shared.FullName, "written")));
            // The overlay took the write inside; the host's directory is as it was.
            Assert.Equal("overlay\n", result.Stdout);
            Assert.Empty(Directory.GetFileSystemEntries(readOnly));
        }
        finally
        {
            Directory.Delete(readOnly, recursive: true);
        }
    }

    [Fact]
    public void A_machine_that_is_not_ready_in_time_is_stopped_and_removed()
    {
        var result = Ssihv("lab", "exec", "--boot-timeout", "0.5", "--", "true");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the machine was not ready within 0.5 s (--boot-timeout); stopped it", result.Stderr);
        AssertNothingLeftBehind();
    }

    [Fact]
    public void A_command_that_outlives_its_timeout_is_stopped_and_removed()
    {
        var result = Ssihv("lab", "exec", "--timeout", "3", "--", "sleep", "600");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the command was still running after 3 s (--timeout); stopped the machine", result.Stderr);
        AssertNothingLeftBehind();
    }

    static readonly TimeSpan StopAfterSignal = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Ctrl_c_stops_the_machine_and_removes_it()
    {
        // A test run started in the background by a non-interactive shell inherits SIGINT ignored, and .NET
        // installs no SIGINT handler in a process that starts so: `env` gives the command the default back, as
        // it has at a terminal where Ctrl-C is typed.
        var start = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true };
        var (program, arguments) = SsihvCommand.For("lab", "exec", "--", "sleep", "600");
        foreach (var argument in (string[])["--default-signal=INT", program, .. arguments])
            start.ArgumentList.Add(argument);
        start.Environment["TMPDIR"] = scratch.FullName;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = new List<string>();
        var running = new TaskCompletionSource();
        var reader = Task.Run(() =>
        {
            while (process.StandardError.ReadLine() is { } line)
            {
                lock (stderr)
                    stderr.Add(line);
                if (line.Contains("running the command"))
                    running.TrySetResult();
            }
        });
        Assert.True(await Task.WhenAny(running.Task, Task.Delay(Patience)) == running.Task, "the machine never became ready");
        Assert.Equal(0, ExternalProcess.Run("kill", ["-INT", process.Id.ToString()], TimeSpan.FromSeconds(10)).ExitCode);
        // Stopping kills QEMU (waiting up to 10 s) and its readers (5 s); the rest is headroom for a loaded host.
        if (!process.WaitForExit(StopAfterSignal))
        {
            process.Kill(entireProcessTree: true);
            lock (stderr)
                Assert.Fail($"ssihv lab exec did not stop within {StopAfterSignal.TotalSeconds} s after SIGINT; its stderr:\n{string.Join('\n', stderr)}");
        }
        await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(5)));
        output.WriteLine(string.Join('\n', stderr) + await stdout);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains(stderr, l => l.Contains("interrupted; the lab machine was stopped and removed"));
        AssertNothingLeftBehind();
    }

    [Theory]
    [InlineData("--cpus", "0", "--cpus 0: expected a whole number from 1 to 16")]
    [InlineData("--memory", "100M", "--memory 100M: expected whole MiB from 512M to 64G")]
    [InlineData("--tcg-threads", "many", "--tcg-threads many: expected 'single' or 'multi'")]
    [InlineData("--writable", "/no/such/dir", "--writable /no/such/dir: no such directory")]
    [InlineData("--tap", "ssihvtap0", "--tap NAME and --address A.B.C.D/P go together")]
    public void Bad_options_exit_2_naming_the_option(string option, string value, string expected)
    {
        var result = Ssihv("lab", "exec", option, value, "--", "true");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    public void A_missing_command_exits_2()
    {
        var result = Ssihv("lab", "exec", "--cpus", "1");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("missing -- COMMAND [ARGS...]", result.Stderr);
    }

    /// The image's module list is the closure core computes from the kernel package's own modules.dep, in an
    /// order where every module follows what it depends on: checked against the real file and the real archive.
    [Fact]
    public void The_initramfs_loads_the_closure_of_the_lab_modules_from_the_kernels_own_modules_dep()
    {
        var image = LabImage.Prepare(LabImage.DefaultDirectory(), TextWriter.Null);
        var directory = Path.GetDirectoryName(image.Initramfs)!;
        var dependencies = File.ReadAllText(Path.Combine(directory, "modules.dep"));
        var index = KernelModules.parse(dependencies, File.ReadAllText(Path.Combine(directory, "modules.builtin"))).ResultValue;
        var expected = KernelModules.loadOrder(index, Core.Lab.ImageLayout.moduleRoots).ResultValue.ToList();

        var unpacked = scratch.CreateSubdirectory("initramfs");
        var cpio = ExternalProcess.Run("sh", ["-c", $"cpio -id --quiet < {image.Initramfs}"], TimeSpan.FromSeconds(60), unpacked.FullName);
        Assert.True(cpio.ExitCode == 0, cpio.ToString());
        var loaded = File.ReadAllLines(Path.Combine(unpacked.FullName, "lab", "modules.load"));
        Assert.Equal(expected, loaded);
        foreach (var module in loaded)
            Assert.True(File.Exists(Path.Combine(unpacked.FullName, "lib", "modules", module)), module);

        // Straight from modules.dep: kvm-amd needs kvm (and kvm irqbypass), 9p needs 9pnet, all loaded before.
        var dependencyLines = dependencies.Split('\n').Where(l => l.Contains(':')).ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var position = loaded.Select((m, i) => (m, i)).ToDictionary(p => p.m, p => p.i);
        foreach (var module in loaded)
            foreach (var dependency in dependencyLines[module])
                Assert.True(position[dependency] < position[module], $"{dependency} must load before {module}");
        Assert.Contains(loaded, m => m.EndsWith("/kvm-amd.ko"));
        Assert.Contains(loaded, m => m.EndsWith("/rdma_rxe.ko"));
    }
}
