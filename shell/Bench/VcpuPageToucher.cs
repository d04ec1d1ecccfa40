using SsiHv.Shell.Vmm.Hypervisor;
using SsiHv.Shell.Vmm.Hypervisor.Kvm;
using SsiHv.Shell.Vmm.Memory;
using static SsiHv.Shell.Bench.FaultGuestLayout;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The fault guest (bench/reference/fault_guest.S) on one vCPU of a KVM VM of this process (through the hypervisor
/// seam), its memory the pager's; its per-touch timings are the rdtsc cycles it leaves at <see cref="ResultsAddress"/>.
/// </summary>
public sealed class VcpuPageToucher : IPageToucher
{
    readonly IHypervisor hypervisor;
    readonly IHypervisorVm vm;
    readonly IVcpu vcpu;
    readonly int touches;

    VcpuPageToucher(IHypervisor hypervisor, IHypervisorVm vm, IVcpu vcpu, int touches) =>
        (this.hypervisor, this.vm, this.vcpu, this.touches) = (hypervisor, vm, vcpu, touches);

    public static VcpuPageToucher Create(GuestMemory memory, byte[] guestCode, int pages, int passes)
    {
        var hypervisor = HostKvm.Open();
        IHypervisorVm? vm = null;
        try
        {
            vm = hypervisor.CreateVm();
            // One node-0 RAM range (paged) plus GuestMemory's unpaged BIOS area at 0xE0000, which holds the code.
            memory.RegisterWith(vm);
            memory.Write(LowBase, guestCode);
            Span<byte> parameters = stackalloc byte[8];
            BitConverter.TryWriteBytes(parameters[..4], (uint)pages);
            BitConverter.TryWriteBytes(parameters[4..], (uint)passes);
            memory.Write(ParametersAddress, parameters);
            var vcpu = vm.CreateVcpu(0);
            EnterFlatProtectedMode(vcpu);
            return new VcpuPageToucher(hypervisor, vm, vcpu, pages * passes);
        }
        catch
        {
            vm?.Dispose();
            hypervisor.Dispose();
            throw;
        }
    }

    /// The vCPU loop: timestamps each write to the pass port, stops at hlt.
    public string? Touch(List<long> marks, int? cpu)
    {
        if (cpu is { } pinned)
            Interop.Linux.CpuAffinity.PinCurrentThread(pinned);
        while (true)
        {
            switch (vcpu.Run())
            {
                case VcpuExit.Interrupted:
                    continue;
                case VcpuExit.PortIo { Port: PassPort }:
                    marks.Add(System.Diagnostics.Stopwatch.GetTimestamp());
                    break;
                case VcpuExit.Halt:
                    return null;
                case var exit:
                    return $"unexpected exit {exit.GetType().Name}";
            }
        }
    }

    public uint[] Timings(GuestMemory memory)
    {
        var results = new byte[touches * 4];
        memory.Read(ResultsAddress, results);
        var cycles = new uint[touches];
        Buffer.BlockCopy(results, 0, cycles, 0, results.Length);
        return cycles;
    }

    /// 32-bit protected mode, paging off, flat 4 GiB segments: no GDT in memory because the guest loads none.
    static void EnterFlatProtectedMode(IVcpu vcpu)
    {
        var sregs = vcpu.GetSpecialRegisters();
        var code = new SegmentRegister { Base = 0, Limit = 0xFFFFFFFF, Selector = 8, Type = 11, Present = 1, Dpl = 0, Db = 1, S = 1, G = 1 };
        var data = code with { Selector = 16, Type = 3 };
        sregs.Cs = code;
        sregs.Ds = sregs.Es = sregs.Fs = sregs.Gs = sregs.Ss = data;
        sregs.Cr0 = 0x11; // PE | ET
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new StandardRegisters { Rip = LowBase, Rflags = 0x2 });
    }

    public void Dispose()
    {
        vcpu.Dispose();
        vm.Dispose();
        hypervisor.Dispose();
    }
}
