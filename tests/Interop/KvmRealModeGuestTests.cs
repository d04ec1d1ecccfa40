using SsiHv.Interop.Kvm;
using SsiHv.Interop.Memory;
using Xunit;

namespace SsiHv.Tests.Interop;

/// <summary>The interop layer on the real /dev/kvm: a few bytes of real-mode guest code write to a port and halt.</summary>
public sealed class KvmRealModeGuestTests
{
    [Fact]
    public void A_real_mode_guest_does_port_io_and_halts()
    {
        using var kvm = KvmSystem.Open();
        using var vm = kvm.CreateVm();
        using var memory = new AnonymousMapping(0x10000);
        // mov al, 0x42; out 0x10, al; hlt
        byte[] code = [0xB0, 0x42, 0xE6, 0x10, 0xF4];
        code.CopyTo(memory.Span(0x1000, code.Length));
        vm.SetUserMemoryRegion(0, 0, memory.Length, memory.Address);
        using var vcpu = vm.CreateVcpu(0);
        var sregs = vcpu.GetSregs();
        sregs.Cs.Base = 0;
        sregs.Cs.Selector = 0;
        vcpu.SetSregs(sregs);
        vcpu.SetRegs(new KvmRegs { Rip = 0x1000, Rflags = 0x2 });

        Assert.Equal(KvmVcpu.RunOutcome.Exited, vcpu.Run());
        Assert.Equal(KvmExitReason.Io, vcpu.ExitReason);
        Assert.Equal(KvmExitIo.DirectionOut, vcpu.IoExit.Direction);
        Assert.Equal(0x10, vcpu.IoExit.Port);
        Assert.Equal([0x42], vcpu.IoData().ToArray());

        Assert.Equal(KvmVcpu.RunOutcome.Exited, vcpu.Run());
        Assert.Equal(KvmExitReason.Hlt, vcpu.ExitReason);
        Assert.Equal(0x1005UL, vcpu.GetRegs().Rip);
    }
}
