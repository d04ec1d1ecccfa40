using System.Diagnostics;
using SsiHv.Interop.Memory;
using SsiHv.Interop.Userfault;
using Xunit;
using Xunit.Abstractions;
using static SsiHv.Tests.Interop.UserfaultTestThread;

namespace SsiHv.Tests.Interop;

/// <summary>
/// userfaultfd on the real kernel: threads of this process fault on registered anonymous pages and block
/// until the test (acting as the pager) resolves them. Closing the descriptor in every finally wakes any
/// thread still blocked, so a failing test never hangs or unmaps memory under a waiting thread.
/// </summary>
public sealed class UserfaultTests(ITestOutputHelper output)
{
    const int Page = 4096;
    const int Timeout = UserfaultTestThread.WaitMilliseconds;
    const UserfaultFeatures PagerFeatures = UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId;

    [Fact]
    public void The_handshake_reports_what_this_kernel_supports()
    {
        var uname = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var available = UserfaultFd.QueryAvailableFeatures();
        using var uffd = UserfaultFd.Open(PagerFeatures);
        using var memory = new AnonymousMapping(4 * Page);
        var rangeIoctls = uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
        output.WriteLine($"kernel {uname}; opened through {uffd.Source}");
        output.WriteLine($"available features 0x{(ulong)available:X}: {available}");
        output.WriteLine($"enabled features {uffd.Features}; descriptor ioctls 0x{(ulong)uffd.Ioctls:X}: {uffd.Ioctls}");
        output.WriteLine($"anonymous MISSING|WP range ioctls 0x{(ulong)rangeIoctls:X}: {rangeIoctls}");

        Assert.Equal(available, uffd.AvailableFeatures);
        Assert.Equal(PagerFeatures, uffd.Features);
        Assert.True(available.HasFlag(PagerFeatures | UserfaultFeatures.MissingShmem | UserfaultFeatures.MinorShmem),
            $"the pager needs {PagerFeatures} (and shmem support); the kernel offers {available}");
        Assert.True(uffd.Ioctls.HasFlag(UserfaultIoctls.Api | UserfaultIoctls.Register | UserfaultIoctls.Unregister));
        Assert.True(rangeIoctls.HasFlag(UserfaultIoctls.Copy | UserfaultIoctls.Zeropage | UserfaultIoctls.WriteProtect | UserfaultIoctls.Wake),
            $"range ioctls {rangeIoctls}");

        // A feature the kernel lacks is refused with a message naming what it does offer.
        var missing = ~(ulong)available & (1UL << 62);
        var error = Assert.Throws<SsiHv.Interop.Linux.LinuxError>(() => UserfaultFd.Open((UserfaultFeatures)missing));
        Assert.Contains("UFFDIO_API", error.Message);
        Assert.Contains("the kernel offers", error.Message);

        uffd.Unregister(memory.Address, memory.Length);
    }

    [Fact]
    public void A_read_fault_blocks_until_UFFDIO_COPY_installs_the_page()
    {
        using var memory = new AnonymousMapping(4 * Page);
        using var source = new AnonymousMapping(2 * Page);
        for (var i = 0; i < Page; i++)
            source.Span(0, Page)[i] = (byte)(i * 7 + 3);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);
        var target = memory.Address + Page;
        byte seen = 0;
        var toucher = UserfaultTestThread.Start("toucher", () => seen = Read(target + 5));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal(UserfaultEvent.PageFault, message.Event);
            Assert.Equal(UserfaultPageFaultFlags.None, message.PageFaultFlags);
            Assert.Equal((ulong)target, message.Address);
            Assert.Equal(toucher.OsThreadId, (int)message.ThreadId);
            Assert.False(toucher.Join(50), "the toucher must wait for the page");

            Assert.Equal(new UserfaultFillResult(UserfaultFillStatus.Done, Page), uffd.Copy(target, source.Address, Page));
            toucher.AssertFinished("after UFFDIO_COPY");
            Assert.Equal((byte)(5 * 7 + 3), seen);
            Assert.True(memory.Span(Page, Page).SequenceEqual(source.Span(0, Page)));

            // The page is now present: installing it again is a value, not an exception (the pager races with itself).
            Assert.Equal(new UserfaultFillResult(UserfaultFillStatus.PageExists, 0), uffd.Copy(target, source.Address, Page));
            Assert.Equal(new UserfaultFillResult(UserfaultFillStatus.PageExists, 0), uffd.Zeropage(target, Page));
            // Two pages whose second is present: the first is installed, the kernel says "try again" with the count.
            Assert.Equal(new UserfaultFillResult(UserfaultFillStatus.TryAgain, Page), uffd.Copy(memory.Address, source.Address, 2 * Page));
        }
        finally
        {
            uffd.Dispose();
            toucher.Join();
        }
    }

    [Fact]
    public void A_fault_resolved_by_UFFDIO_ZEROPAGE_reads_zeros_and_later_writes_need_no_pager()
    {
        using var memory = new AnonymousMapping(2 * Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);
        byte seen = 0xFF;
        var toucher = UserfaultTestThread.Start("toucher", () => seen = Read(memory.Address + 100));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal((ulong)memory.Address, message.Address);
            Assert.Equal(new UserfaultFillResult(UserfaultFillStatus.Done, Page), uffd.Zeropage(memory.Address, Page));
            toucher.AssertFinished("after UFFDIO_ZEROPAGE");
            Assert.Equal(0, seen);

            // Writing over the zero page is an ordinary copy-on-write: no message for a MISSING-only range.
            Write(memory.Address + 100, 0x42);
            Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 100));
            Assert.Equal(0x42, Read(memory.Address + 100));
        }
        finally
        {
            uffd.Dispose();
            toucher.Join();
        }
    }

    [Fact]
    public void A_write_to_a_write_protected_page_faults_with_WP_and_lands_when_protection_is_cleared()
    {
        using var memory = new AnonymousMapping(2 * Page);
        using var source = new AnonymousMapping(Page);
        source.Span(0, Page).Fill(0x11);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
        var target = memory.Address + Page;
        Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(target, source.Address, Page, UserfaultCopyMode.WriteProtect).Status);
        Assert.Equal(0x11, Read(target + 9)); // reading a write-protected page does not fault
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50));

        var writer = UserfaultTestThread.Start("writer", () => Write(target + 9, 0x99));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal(UserfaultPageFaultFlags.Write | UserfaultPageFaultFlags.WriteProtect, message.PageFaultFlags);
            Assert.Equal((ulong)target, message.Address);
            Assert.Equal(writer.OsThreadId, (int)message.ThreadId);
            Assert.False(writer.Join(50), "the writer must wait while the page is write-protected");
            Assert.Equal(0x11, Read(target + 9));

            uffd.WriteProtect(target, Page, protect: false);
            writer.AssertFinished("after UFFDIO_WRITEPROTECT clear");
            Assert.Equal(0x99, Read(target + 9));
        }
        finally
        {
            uffd.Dispose();
            writer.Join();
        }
    }

    [Fact]
    public void Write_protection_set_later_is_cleared_with_DONTWAKE_and_UFFDIO_WAKE_releases_the_writer()
    {
        using var memory = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
        Assert.Equal(UserfaultFillStatus.Done, uffd.Zeropage(memory.Address, Page).Status);
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50));
        // The zero page is mapped; a write gets a private copy first (it is writable after that).
        Write(memory.Address, 1);
        uffd.WriteProtect(memory.Address, Page, protect: true);

        var writer = UserfaultTestThread.Start("writer", () => Write(memory.Address + 1, 2));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal(UserfaultPageFaultFlags.Write | UserfaultPageFaultFlags.WriteProtect, message.PageFaultFlags);
            uffd.WriteProtect(memory.Address, Page, protect: false, dontWake: true);
            // DONTWAKE only means "not woken by this call": a waiting thread also retries its access whenever a
            // signal interrupts its wait (the runtime's GC suspension sends them), and then finds the page
            // writable. So the writer may or may not still wait here; UFFDIO_WAKE must release it if it does.
            writer.Join(100);
            uffd.Wake(memory.Address, Page);
            writer.AssertFinished("after UFFDIO_WAKE");
            Assert.Equal(2, Read(memory.Address + 1));
        }
        finally
        {
            uffd.Dispose();
            writer.Join();
        }
    }

    [Fact]
    public void MADV_DONTNEED_on_a_registered_page_makes_the_next_access_fault_as_missing_again()
    {
        using var memory = new AnonymousMapping(2 * Page);
        using var source = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
        source.Span(0, Page).Fill(0xA1);
        Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address, source.Address, Page).Status);
        Assert.Equal(0xA1, Read(memory.Address + 3));
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50));

        memory.DiscardPages(0, Page);
        source.Span(0, Page).Fill(0xB2);
        byte seen = 0;
        var toucher = UserfaultTestThread.Start("toucher", () => seen = Read(memory.Address + 3));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal(UserfaultEvent.PageFault, message.Event);
            Assert.Equal(UserfaultPageFaultFlags.None, message.PageFaultFlags);
            Assert.Equal((ulong)memory.Address, message.Address);
            Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address, source.Address, Page).Status);
            toucher.AssertFinished("after the second UFFDIO_COPY");
            Assert.Equal(0xB2, seen);
        }
        finally
        {
            uffd.Dispose();
            toucher.Join();
        }
    }

    [Fact]
    public void The_reader_times_out_when_no_fault_arrives_and_stops_when_asked()
    {
        using var memory = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);

        var clock = Stopwatch.StartNew();
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 200));
        Assert.InRange(clock.ElapsedMilliseconds, 190, 5_000);
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 0));

        var status = UserfaultReadStatus.Messages;
        var reader = UserfaultTestThread.Start("reader", () => status = uffd.ReadOne(out _, -1));
        Assert.False(reader.Join(100), "with no fault and no stop the reader keeps waiting");
        uffd.RequestStop();
        reader.AssertFinished("after RequestStop");
        Assert.Equal(UserfaultReadStatus.Stopped, status);
        Assert.Equal(UserfaultReadStatus.Stopped, uffd.ReadOne(out _, Timeout)); // sticky
    }

    [Fact]
    public void An_interrupt_wakes_a_waiting_reader_once()
    {
        using var memory = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);

        var status = UserfaultReadStatus.Messages;
        var reader = UserfaultTestThread.Start("reader", () => status = uffd.ReadOne(out _, -1));
        Assert.False(reader.Join(100), "with nothing to read the reader keeps waiting");
        uffd.Interrupt();
        reader.AssertFinished("after Interrupt");
        Assert.Equal(UserfaultReadStatus.Interrupted, status);
        Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50)); // consumed: not sticky
    }

    [Fact]
    public void Many_faults_are_read_in_batches_and_each_page_is_resolved()
    {
        const int Pages = 8;
        using var memory = new AnonymousMapping(Pages * Page);
        using var source = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);
        var touchers = new UserfaultTestThread[Pages];
        var seen = new byte[Pages];
        try
        {
            for (var i = 0; i < Pages; i++)
            {
                var page = i;
                touchers[i] = UserfaultTestThread.Start($"toucher {i}", () => seen[page] = Read(memory.Address + page * Page));
            }
            var messages = new UserfaultMessage[Pages];
            var resolved = new HashSet<ulong>();
            var clock = Stopwatch.StartNew();
            while (resolved.Count < Pages && clock.ElapsedMilliseconds < Timeout)
            {
                if (uffd.Read(messages, Timeout, out var count) != UserfaultReadStatus.Messages)
                    break;
                for (var m = 0; m < count; m++)
                {
                    var index = (int)((messages[m].Address - (ulong)memory.Address) / Page);
                    source.Span(0, 1)[0] = (byte)(index + 1);
                    var result = uffd.Copy((nint)messages[m].Address, source.Address, Page);
                    Assert.True(result.Status is UserfaultFillStatus.Done or UserfaultFillStatus.PageExists, $"{result}");
                    resolved.Add(messages[m].Address);
                }
            }
            Assert.Equal(Pages, resolved.Count);
            for (var i = 0; i < Pages; i++)
            {
                touchers[i].AssertFinished($"page {i}");
                Assert.Equal((byte)(i + 1), seen[i]);
            }
        }
        finally
        {
            uffd.Dispose();
            foreach (var toucher in touchers)
                toucher?.Join();
        }
    }

    [Theory]
    [InlineData(UserfaultSource.Syscall, "userfaultfd(2)")]
    [InlineData(UserfaultSource.Device, "/dev/userfaultfd")]
    public void Both_ways_of_opening_give_a_working_descriptor(UserfaultSource way, string expectedSource)
    {
        using var memory = new AnonymousMapping(Page);
        using var source = new AnonymousMapping(Page);
        source.Span(0, Page).Fill(0x3C);
        using var uffd = UserfaultFd.Open(PagerFeatures, way);
        Assert.Equal(expectedSource, uffd.Source);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);
        byte seen = 0;
        var toucher = UserfaultTestThread.Start("toucher", () => seen = Read(memory.Address + 1));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var message, Timeout));
            Assert.Equal((ulong)memory.Address, message.Address);
            Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address, source.Address, Page).Status);
            toucher.AssertFinished("after UFFDIO_COPY");
            Assert.Equal(0x3C, seen);
        }
        finally
        {
            uffd.Dispose();
            toucher.Join();
        }
    }

    [Fact]
    public void Unregistering_releases_a_waiting_thread_which_then_faults_in_a_zero_page()
    {
        using var memory = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(PagerFeatures);
        uffd.Register(memory.Address, memory.Length, UserfaultRegisterMode.Missing);
        byte seen = 0xFF;
        var toucher = UserfaultTestThread.Start("toucher", () => seen = Read(memory.Address));
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out _, Timeout));
            uffd.Unregister(memory.Address, memory.Length);
            toucher.AssertFinished("after UFFDIO_UNREGISTER");
            Assert.Equal(0, seen);
            var error = Assert.Throws<SsiHv.Interop.Linux.LinuxError>(() => uffd.Zeropage(memory.Address, Page));
            Assert.Contains("UFFDIO_ZEROPAGE", error.Message);
        }
        finally
        {
            uffd.Dispose();
            toucher.Join();
        }
    }
}
