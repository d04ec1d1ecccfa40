namespace SsiHv.Shell.Vmm.Devices;

/// <summary>Why a VM stopped: what the guest asked for, or what went wrong (with the report a person needs).</summary>
public abstract record VmStop
{
    public sealed record PowerOff : VmStop;
    public sealed record Reset : VmStop;
    public sealed record Failure(string Report) : VmStop;
    public sealed record TimedOut(TimeSpan Limit) : VmStop;
    /// Stopped from outside the guest (VirtualMachine.Stop): the control plane, a lost node, a failed pager.
    public sealed record Stopped(string Reason) : VmStop;
}
