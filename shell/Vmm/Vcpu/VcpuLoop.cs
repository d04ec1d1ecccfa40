using SsiHv.Interop.Kvm;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Vmm.Devices;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Vmm.Vcpu;

/// <summary>
/// One vCPU thread: KVM_RUN until the VM stops; port I/O goes to the bus, anything the VMM cannot continue
/// from becomes a <see cref="VmStop.Failure"/> with a full report. APs start in wait-for-SIPI (in-kernel LAPIC)
/// and simply block in KVM_RUN until the guest starts them.
/// </summary>
public sealed class VcpuLoop(KvmVcpu vcpu, PortBus ports, GuestMemory memory, Action<VmStop> stop)
{
    const uint SystemEventShutdown = 1, SystemEventReset = 2;

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
                if (vcpu.Run() != KvmVcpu.RunOutcome.Exited)
                    continue; // EINTR (kicked) re-checks `stopping`; EAGAIN is an AP's first run after INIT
                if (!HandleExit())
                    return;
            }
        }
        catch (Exception e) when (e is LinuxError or GuestMemoryException or InvalidOperationException)
        {
            stop(new VmStop.Failure(FailureReport.Describe(vcpu, memory, e.Message)));
        }
    }

    /// Returns false when this vCPU cannot continue.
    bool HandleExit()
    {
        switch (vcpu.ExitReason)
        {
            case KvmExitReason.Io:
                HandlePortIo();
                return true;
            case KvmExitReason.Mmio:
                // Nothing is mapped there: reads see all ones, writes are dropped, as on a PC bus.
                if (vcpu.MmioExit.IsWrite == 0)
                    unsafe
                    {
                        fixed (byte* data = vcpu.MmioExit.Data)
                            new Span<byte>(data, 8).Fill(0xFF);
                    }
                return true;
            case KvmExitReason.SystemEvent when vcpu.SystemEventType == SystemEventShutdown:
                stop(new VmStop.PowerOff());
                return false;
            case KvmExitReason.SystemEvent when vcpu.SystemEventType == SystemEventReset:
                stop(new VmStop.Reset());
                return false;
            case KvmExitReason.SystemEvent:
                Fail($"system event {vcpu.SystemEventType} (3 = the guest reported a crash)");
                return false;
            case KvmExitReason.Shutdown:
                Fail("triple fault (KVM_EXIT_SHUTDOWN): the guest hit an exception it could not handle");
                return false;
            case KvmExitReason.InternalError:
                var error = vcpu.InternalErrorExit;
                Fail($"KVM internal error, suberror {error.Suberror} (1 = emulation failure: an instruction KVM cannot emulate on this host)");
                return false;
            case KvmExitReason.FailEntry:
                Fail($"VM entry failed, hardware reason 0x{vcpu.FailEntryReason:X}");
                return false;
            case KvmExitReason.Hlt:
                Fail("hlt exited to the VMM although the irqchip is in the kernel");
                return false;
            default:
                Fail($"unexpected exit reason {(uint)vcpu.ExitReason} ({vcpu.ExitReason})");
                return false;
        }
    }

    void HandlePortIo()
    {
        var io = vcpu.IoExit;
        var data = vcpu.IoData();
        for (var offset = 0; offset < data.Length; offset += io.Size)
        {
            var element = data.Slice(offset, io.Size);
            if (io.Direction == KvmExitIo.DirectionOut)
                ports.Write(io.Port, element);
            else
                ports.Read(io.Port, element);
        }
    }

    void Fail(string what) => stop(new VmStop.Failure(FailureReport.Describe(vcpu, memory, what)));
}
