using System.Diagnostics;
using System.Text;
using Xunit;

namespace SsiHv.Tests.Cli;

/// <summary>
/// Files named on the command line that are no plain document or kernel: devices that never end, FIFOs that
/// block, directories, files past their limit, bytes that are not UTF-8. Each is bad input (exit 2) with one line
/// naming the file and what it is, read in bounded time and memory, with none of its content shown.
/// </summary>
public sealed class InputFileTests : IDisposable
{
    readonly TestFiles files = new();

    public void Dispose() => files.Dispose();

    static void AssertRefused(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.DoesNotContain("internal error", result.Stderr);
    }

    static CliResult Show(string topology) => CliRun.InProcess("acpi", "show", "--topology", topology);

    [Fact]
    public void A_device_that_never_ends_is_refused_as_no_regular_file_without_reading_it()
    {
        var before = GC.GetTotalAllocatedBytes();
        AssertRefused(Show("/dev/zero"), "/dev/zero: is a character device, not a regular file");
        Assert.InRange(GC.GetTotalAllocatedBytes() - before, 0, 64L << 20);
    }

    [Fact]
    public void A_directory_is_refused_as_a_directory()
    {
        AssertRefused(Show(files.Directory), $"{files.Directory}: is a directory, not a regular file");
    }

    [Fact]
    public void A_FIFO_without_a_writer_is_refused_at_once()
    {
        var fifo = files.PathOf("topology.fifo");
        Process.Start("mkfifo", [fifo])!.WaitForExit();
        var clock = Stopwatch.StartNew();
        AssertRefused(Show(fifo), $"{fifo}: is a FIFO, not a regular file");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_topology_larger_than_a_document_may_be_is_refused_naming_the_limit()
    {
        var path = files.PathOf("huge.json");
        using (var file = File.Create(path))
            file.SetLength((1 << 20) + 1);
        AssertRefused(Show(path), $"{path}: is larger than the 1 MiB a document may have");
    }

    [Fact]
    public void A_topology_with_bytes_that_are_not_UTF8_is_bad_input_naming_the_offset()
    {
        var path = files.PathOf("latin1.json");
        var text = Encoding.UTF8.GetBytes(TestFiles.ExampleTopologyText);
        var at = Array.IndexOf(text, (byte)'{') + 1;
        File.WriteAllBytes(path, [.. text[..at], 0xE9, .. text[at..]]);
        AssertRefused(Show(path), $"{path}: not valid UTF-8: byte 0xE9 at offset {at}");
    }

    [Fact]
    public void A_kernel_that_is_a_device_is_refused_before_any_VM_is_made()
    {
        AssertRefused(CliRun.InProcess("run", "--topology", TestFiles.ExampleTopologyPath, "--kernel", "/dev/zero"),
            "ssihv run: --kernel /dev/zero: is a character device, not a regular file");
    }
}
