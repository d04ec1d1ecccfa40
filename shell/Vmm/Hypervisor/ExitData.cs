namespace SsiHv.Shell.Vmm.Hypervisor;

/// <summary>
/// The bytes an exit carries, in the hypervisor's own exit buffer: what the guest wrote, or where the VMM puts what
/// the guest reads (the hypervisor hands them to the guest on the next <see cref="IVcpu.Run"/>).
/// </summary>
public abstract class ExitData
{
    public abstract Span<byte> Bytes { get; }
}
