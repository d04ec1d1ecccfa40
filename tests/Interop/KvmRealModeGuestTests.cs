using SsiHv.Interop.Kvm;
using SsiHv.Interop.Memory;
using SsiHv.Tests.Support;
using Xunit;

namespace SsiHv.Tests.Interop;

/// <summary>The interop layer on the real /dev/kvm: a few bytes of real-mode guest code write to a port and halt.</summary>
public sealed class KvmRealModeGuestTests
{
    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_real_mode_guest_does_port_io_and_halts()
    {
        // mov al, 0x42; out 0x10, al; hlt
        using var guest = new RealModeGuest([0xB0, 0x42, 0xE6, 0x10, 0xF4]);
        var memory = guest.Memory;
        var vcpu = guest.Vcpu;

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
