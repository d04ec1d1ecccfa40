using SsiHv.Interop.Linux;
using SsiHv.Shell.Vmm.Devices;
using SsiHv.Shell.Vmm.Hypervisor;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Vmm.Vcpu;

/// <summary>
/// One vCPU thread: runs the vCPU (KVM_RUN) until the VM stops; port I/O and MMIO go to their buses, anything
/// the VMM cannot continue from becomes a <see cref="VmStop.Failure"/> with a full report. APs start in wait-for-SIPI (in-kernel LAPIC)
/// and simply block in KVM_RUN until the guest starts them.
/// </summary>
public sealed class VcpuLoop(IVcpu vcpu, AddressBus ports, AddressBus mmio, GuestMemory memory, Action<VmStop> stop)
{
    readonly ManualResetEventSlim started = new();
    volatile bool stopping;
    nuint thread;
    Thread? worker;

    public int Id => vcpu.Id;

    public void Start()
    {
        ThreadKick.EnsureInstalled();
        worker = new Thread(Run) { Name = $"vCPU {vcpu.Id}", IsBackground = true };
        worker.Start();
        started.Wait();
    }

    /// Keeps this vCPU out of the guest from its next exit on, without waiting. Called for every vCPU as soon as
    /// anything stops the VM, so the vCPU that wrote the power-off or reset register never runs the instructions
    /// after that write (on a PC they never run; a probe guest resumed there reports that the power-off failed).
    public void Halt()
    {
        stopping = true;
        vcpu.RequestImmediateExit();
    }

    /// Makes KVM_RUN return (immediate_exit for the next entry, a signal for a blocked one) and waits for the thread.
    public bool Stop(TimeSpan timeout)
    {
        Halt();
        if (worker is null)
            return true;
        var deadline = DateTime.UtcNow + timeout;
        while (!worker.Join(TimeSpan.FromMilliseconds(20)))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            ThreadKick.Kick(thread);
        }
        return true;
    }

    void Run()
    {
        thread = ThreadKick.CurrentThread();
        started.Set();
        try
        {
            while (!stopping)
            {
                var exit = vcpu.Run();
                if (exit is VcpuExit.Interrupted)
                    continue; // kicked: re-checks `stopping`; or an AP's first run after INIT
                if (!HandleExit(exit))
                    return;
            }
        }
        catch (Exception e) when (e is LinuxError or GuestMemoryException or InvalidOperationException)
        {
            stop(new VmStop.Failure(FailureReport.Describe(vcpu, memory, e.Message)));
        }
    }

    /// Returns false when this vCPU cannot continue.
    bool HandleExit(VcpuExit exit)
    {
        switch (exit)
        {
            case VcpuExit.PortIo io:
                HandlePortIo(io);
                return true;
            case VcpuExit.MmioRead read:
                mmio.Read(read.Address, read.Data.Bytes);
                return true;
            case VcpuExit.MmioWrite write:
                mmio.Write(write.Address, write.Data.Bytes);
                return true;
            case VcpuExit.PowerOff:
                stop(new VmStop.PowerOff());
                return false;
            case VcpuExit.Reset:
                stop(new VmStop.Reset());
                return false;
            case VcpuExit.SystemEvent systemEvent:
                Fail($"system event {systemEvent.Type} (3 = the guest reported a crash)");
                return false;
            case VcpuExit.TripleFault:
                Fail("triple fault (KVM_EXIT_SHUTDOWN): the guest hit an exception it could not handle");
                return false;
            case VcpuExit.InternalError error:
                Fail(error.Details);
                return false;
            case VcpuExit.FailedEntry failedEntry:
                Fail($"VM entry failed, hardware reason 0x{failedEntry.HardwareReason:X}");
                return false;
            case VcpuExit.Halt:
                Fail("hlt exited to the VMM although the irqchip is in the kernel");
                return false;
            case VcpuExit.Unsupported unsupported:
                Fail(unsupported.Details);
                return false;
            default:
                Fail($"unexpected exit {exit}");
                return false;
        }
    }

    void HandlePortIo(VcpuExit.PortIo io)
    {
        var data = io.Data.Bytes;
        for (var offset = 0; offset < data.Length; offset += io.Size)
        {
            var element = data.Slice(offset, io.Size);
            if (io is VcpuExit.PortOut)
                ports.Write(io.Port, element);
            else
                ports.Read(io.Port, element);
        }
    }

    void Fail(string what) => stop(new VmStop.Failure(FailureReport.Describe(vcpu, memory, what)));
}
