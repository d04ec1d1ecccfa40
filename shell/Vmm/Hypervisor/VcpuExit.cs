namespace SsiHv.Shell.Vmm.Hypervisor;

/// <summary>Why <see cref="IVcpu.Run"/> returned: one case per exit the VMM tells apart.</summary>
public abstract record VcpuExit
{
    VcpuExit() { }

    /// Run returned without an exit: a kick, or an AP's first run after INIT. Run again unless stopping.
    public sealed record Interrupted : VcpuExit
    {
        public static readonly Interrupted Instance = new();
    }

    /// A port I/O instruction: <see cref="Data"/> holds one or more elements of <see cref="Size"/> bytes (string I/O).
    public abstract record PortIo(ushort Port, int Size, ExitData Data) : VcpuExit;

    /// The guest reads the port: the VMM fills <see cref="PortIo.Data"/>.
    public sealed record PortIn(ushort Port, int Size, ExitData Data) : PortIo(Port, Size, Data);

    /// The guest writes the port: <see cref="PortIo.Data"/> holds its bytes.
    public sealed record PortOut(ushort Port, int Size, ExitData Data) : PortIo(Port, Size, Data);

    /// A guest-physical access no memory slot and no in-kernel device claims; the VMM fills <see cref="Data"/>.
    public sealed record MmioRead(ulong Address, ExitData Data) : VcpuExit;

    public sealed record MmioWrite(ulong Address, ExitData Data) : VcpuExit;

    /// The guest executed hlt and the hypervisor handed it to the VMM.
    public sealed record Halt : VcpuExit;

    /// A triple fault: the guest hit an exception it could not handle.
    public sealed record TripleFault : VcpuExit;

    /// The guest asked the platform to power off.
    public sealed record PowerOff : VcpuExit;

    /// The guest asked the platform to reset.
    public sealed record Reset : VcpuExit;

    /// Another platform event, by the hypervisor's number for it.
    public sealed record SystemEvent(uint Type) : VcpuExit;

    /// The hypervisor could not go on with this vCPU (e.g. an instruction it cannot emulate); Details say why.
    public sealed record InternalError(string Details) : VcpuExit;

    /// Entering the guest failed, for a hardware reason.
    public sealed record FailedEntry(ulong HardwareReason) : VcpuExit;

    /// An exit the hypervisor reported that the VMM has no case for; Details name it.
    public sealed record Unsupported(string Details) : VcpuExit;
}
