namespace SsiHv.Shell.Vmm.Devices;

/// <summary>Why a VM stopped: what the guest asked for, or what went wrong (with the report a person needs).</summary>
public abstract record VmStop
{
    public sealed record PowerOff : VmStop;
    public sealed record Reset : VmStop;
    public sealed record Failure(string Report) : VmStop;
    /// `VcpuStates`: each vCPU's registers when it was stopped (FailureReport), for finding where a guest hangs.
    public sealed record TimedOut(TimeSpan Limit, string VcpuStates) : VmStop;
    /// Stopped from outside the guest (VirtualMachine.Stop): the control plane, a lost node, a failed pager.
    public sealed record Stopped(string Reason) : VmStop;
}
