using System.Diagnostics;
using SsiHv.Tests.Cli;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Control;

/// <summary><c>ssihv node</c> as a real process: configuration errors and a clean stop on SIGTERM.</summary>
public sealed class NodeCommandProcessTests : IDisposable
{
    /// Every config a test writes, removed with the test.
    readonly DirectoryInfo configs = Directory.CreateTempSubdirectory("ssihv-node-");

    public void Dispose() => configs.Delete(recursive: true);

    const string Valid = """
        { "id": 0, "transport": "127.0.0.1:0", "http": "127.0.0.1:0", "secret": "00112233445566778899aabbccddeeff",
          "apiToken": "a-long-random-token", "cpus": 2, "memoryMiB": 1024, "boot": true }
        """;

    string Write(string text)
    {
        var path = Path.Combine(configs.FullName, $"node-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_bad_config_exits_2_naming_the_file_and_each_broken_field()
    {
        var path = Write(Valid.Replace("00112233445566778899aabbccddeeff", "00112233").Replace("\"boot\": true", "\"boot\": false"));
        var result = CliRun.AsProcess("node", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{path}: secret: expected at least 32 hex digits, found 8", result.Stderr);
        Assert.Contains($"{path}: boot: give exactly one of", result.Stderr);
    }

    [Fact]
    public void A_boot_node_whose_topology_file_is_missing_exits_2_naming_the_config_and_the_file()
    {
        var path = Write(Valid.Replace("\"boot\": true", "\"boot\": true, \"topology\": \"no-such-topology.json\""));
        var result = CliRun.InProcess("node", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{path}: topology: the file no-such-topology.json is not a valid topology:", result.Stderr);
        Assert.Contains("no-such-topology.json: cannot read", result.Stderr);
    }

    [Fact]
    public void A_config_that_is_not_JSON_exits_2_naming_the_line()
    {
        var path = Write("{ \"id\": 0, \"cpus\": \"two\" }");
        var result = CliRun.AsProcess("node", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{path}: line 1: cpus: expected an integer", result.Stderr);
    }

    [Fact]
    public void A_config_with_bytes_that_are_not_UTF8_exits_2_naming_the_offset()
    {
        var path = Write("");
        File.WriteAllBytes(path, [.. System.Text.Encoding.UTF8.GetBytes("{ \"id\": 0, \"secret\": \""), 0xFF, (byte)'"', (byte)'}']);
        var result = CliRun.AsProcess("node", "--config", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{path}: not valid UTF-8: byte 0xFF at offset 22", result.Stderr);
    }

    [Fact]
    public void A_node_host_whose_open_files_limit_is_too_low_exits_1_saying_how_to_raise_it()
    {
        var path = Write(Valid);
        var (program, arguments) = SsihvCommand.For("node", "--config", path);
        var result = ExternalProcess.Run("prlimit", ["--nofile=1024:1024", program, .. arguments], TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("ssihv node 0: the open-files limit (RLIMIT_NOFILE) is 1024; a node host needs at least 2304", result.Stderr);
    }

    [Fact]
    public async Task SIGTERM_stops_a_running_node_host_cleanly_with_exit_0()
    {
        var path = Write(Valid);
        var (program, arguments) = SsihvCommand.For("node", "--config", path);
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        try
        {
            process.StandardInput.Close();
            var lines = new List<string>();
            var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (lines) lines.Add(e.Data);
                if (e.Data.Contains("control API on http://127.0.0.1:")) listening.TrySetResult();
            };
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput.ReadToEndAsync();
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));

            ExternalProcess.Output("kill", "-TERM", process.Id.ToString());
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(15)), $"still running 15 s after SIGTERM: {string.Join('\n', lines)}");
            process.WaitForExit(); // drains the stderr reader
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {string.Join('\n', lines)} {await stdout}");
            lock (lines)
            {
                Assert.Contains("ssihv node 0: SIGTERM: stopping", lines);
                Assert.Equal("ssihv node 0: stopped", lines[^1]);
            }
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
