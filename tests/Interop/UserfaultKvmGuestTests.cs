using SsiHv.Interop.Kvm;
using SsiHv.Interop.Linux;
using SsiHv.Interop.Memory;
using SsiHv.Interop.Userfault;
using SsiHv.Tests.Support;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Interop;

/// <summary>
/// userfaultfd on KVM guest memory: the guest's accesses to a registered page are faults KVM takes on the
/// VMM's behalf; they reach our descriptor with the vCPU thread's id, KVM_RUN waits until the page is
/// installed, and the guest sees the installed bytes.
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class UserfaultKvmGuestTests(ITestOutputHelper output)
{
    const int Page = 4096;
    const int Timeout = UserfaultTestThread.WaitMilliseconds;
    const int Efault = 14;

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void Guest_read_and_write_faults_are_resolved_by_UFFDIO_COPY_from_another_thread()
    {
        // mov al, [0x2000]; out 0x10, al; mov [0x3000], al; mov al, [0x3001]; out 0x10, al; hlt
        using var guest = new RealModeGuest([0xA0, 0x00, 0x20, 0xE6, 0x10, 0xA2, 0x00, 0x30, 0xA0, 0x01, 0x30, 0xE6, 0x10, 0xF4]);
        var memory = guest.Memory;
        var vcpu = guest.Vcpu;

        using var source = new AnonymousMapping(Page);
        using var uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        // Pages 0x2000 and 0x3000 are "remote": missing until the pager installs them.
        uffd.Register(memory.Address + 0x2000, 2 * Page, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);

        var ports = new List<byte>();
        var exits = new List<KvmExitReason>();
        var vcpuThread = UserfaultTestThread.Start("vCPU 0", () =>
        {
            while (true)
            {
                if (vcpu.Run() != KvmVcpu.RunOutcome.Exited)
                    continue;
                exits.Add(vcpu.ExitReason);
                if (vcpu.ExitReason != KvmExitReason.Io)
                    return;
                Assert.Equal(0x10, vcpu.IoExit.Port);
                ports.Add(vcpu.IoData()[0]);
            }
        });
        try
        {
            // The read of 0x2000.
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var readFault, Timeout));
            output.WriteLine($"guest read fault: flags {readFault.PageFaultFlags}, address 0x{readFault.Address:X}, tid {readFault.ThreadId}");
            Assert.Equal(UserfaultEvent.PageFault, readFault.Event);
            Assert.Equal((ulong)(memory.Address + 0x2000), readFault.Address);
            Assert.Equal(vcpuThread.OsThreadId, (int)readFault.ThreadId);
            Assert.False(readFault.PageFaultFlags.HasFlag(UserfaultPageFaultFlags.Write), $"a guest read, got {readFault.PageFaultFlags}");
            Assert.False(vcpuThread.Join(50), "KVM_RUN must wait for the page");
            source.Span(0, Page).Fill(0x5A);
            Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address + 0x2000, source.Address, Page).Status);

            // The write of 0x3000.
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var writeFault, Timeout));
            output.WriteLine($"guest write fault: flags {writeFault.PageFaultFlags}, address 0x{writeFault.Address:X}, tid {writeFault.ThreadId}");
            Assert.Equal((ulong)(memory.Address + 0x3000), writeFault.Address);
            Assert.Equal(UserfaultPageFaultFlags.Write, writeFault.PageFaultFlags);
            source.Span(0, Page).Fill(0);
            source.Span(1, 1)[0] = 0x77;
            Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address + 0x3000, source.Address, Page).Status);

            vcpuThread.AssertFinished("the guest after both pages were installed");
            Assert.Equal([KvmExitReason.Io, KvmExitReason.Io, KvmExitReason.Hlt], exits);
            Assert.Equal([0x5A, 0x77], ports);
            Assert.Equal(0x5A, memory.Span(0x3000, 1)[0]);
            Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50));
        }
        finally
        {
            uffd.Dispose();
            vcpuThread.Join();
        }
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_guest_write_to_a_write_protected_page_waits_until_protection_is_cleared()
    {
        // mov al, [0x2000]; out 0x10, al; mov byte [0x2001], 0x33; hlt
        using var guest = new RealModeGuest([0xA0, 0x00, 0x20, 0xE6, 0x10, 0xC6, 0x06, 0x01, 0x20, 0x33, 0xF4]);
        var memory = guest.Memory;
        var vcpu = guest.Vcpu;

        using var source = new AnonymousMapping(Page);
        source.Span(0, Page).Fill(0x21);
        using var uffd = UserfaultFd.Open(UserfaultFeatures.PageFaultFlagWp | UserfaultFeatures.ThreadId);
        uffd.Register(memory.Address + 0x2000, Page, UserfaultRegisterMode.Missing | UserfaultRegisterMode.WriteProtect);
        Assert.Equal(UserfaultFillStatus.Done, uffd.Copy(memory.Address + 0x2000, source.Address, Page, UserfaultCopyMode.WriteProtect).Status);

        var ports = new List<byte>();
        var exits = new List<KvmExitReason>();
        var vcpuThread = UserfaultTestThread.Start("vCPU 0", () =>
        {
            while (true)
            {
                if (vcpu.Run() != KvmVcpu.RunOutcome.Exited)
                    continue;
                exits.Add(vcpu.ExitReason);
                if (vcpu.ExitReason != KvmExitReason.Io)
                    return;
                ports.Add(vcpu.IoData()[0]);
            }
        });
        try
        {
            Assert.Equal(UserfaultReadStatus.Messages, uffd.ReadOne(out var fault, Timeout));
            output.WriteLine($"guest WP fault: flags {fault.PageFaultFlags}, address 0x{fault.Address:X}, tid {fault.ThreadId}");
            Assert.Equal(UserfaultPageFaultFlags.Write | UserfaultPageFaultFlags.WriteProtect, fault.PageFaultFlags);
            Assert.Equal((ulong)(memory.Address + 0x2000), fault.Address);
            Assert.Equal(vcpuThread.OsThreadId, (int)fault.ThreadId);
            Assert.False(vcpuThread.Join(50), "the guest's write must wait while the page is write-protected");
            Assert.Equal(0x21, memory.Span(0x2001, 1)[0]);

            uffd.WriteProtect(memory.Address + 0x2000, Page, protect: false);
            vcpuThread.AssertFinished("the guest after the write protection was cleared");
            Assert.Equal([KvmExitReason.Io, KvmExitReason.Hlt], exits);
            Assert.Equal([0x21], ports); // the read of a write-protected page did not fault
            Assert.Equal(0x33, memory.Span(0x2001, 1)[0]);
        }
        finally
        {
            uffd.Dispose();
            vcpuThread.Join();
        }
    }

    /// With UFFD_USER_MODE_ONLY the kernel refuses to block KVM's own fault on the page (KVM faults guest memory
    /// in from kernel mode): KVM_RUN fails with EFAULT and the descriptor never hears of the fault. Why guest
    /// memory needs a full descriptor. (kvm_pvm reported the access as MMIO instead; real kvm-amd says EFAULT.)
    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_user_mode_only_descriptor_does_not_see_the_faults_KVM_takes_for_the_guest()
    {
        // mov al, [0x2000]; out 0x10, al; hlt
        using var guest = new RealModeGuest([0xA0, 0x00, 0x20, 0xE6, 0x10, 0xF4]);
        var memory = guest.Memory;
        var vcpu = guest.Vcpu;

        using var uffd = UserfaultFd.Open(UserfaultFeatures.ThreadId, userModeOnly: true);
        uffd.Register(memory.Address + 0x2000, Page, UserfaultRegisterMode.Missing);
        LinuxError? failure = null;
        var vcpuThread = UserfaultTestThread.Start("vCPU 0", () =>
        {
            try
            {
                while (vcpu.Run() != KvmVcpu.RunOutcome.Exited)
                {
                }
            }
            catch (LinuxError e)
            {
                failure = e;
            }
        });
        try
        {
            vcpuThread.AssertFinished("KVM_RUN must not wait for a user-mode-only descriptor");
            output.WriteLine($"KVM_RUN: {failure?.Message ?? $"exit {vcpu.ExitReason}"}");
            Assert.NotNull(failure);
            Assert.Equal(Efault, failure.Errno);
            Assert.Equal(UserfaultReadStatus.TimedOut, uffd.ReadOne(out _, 50));
        }
        finally
        {
            uffd.Dispose();
            vcpuThread.Join();
        }
    }
}
