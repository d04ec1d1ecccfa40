using SsiHv.Core.Vm;

namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// Why a VM stopped: what the guest asked for, or what went wrong (with the report a person needs). Each is one
/// of the core's <see cref="VmOutcome"/>s, from which the core decides what the stop means for a cluster's run.
/// </summary>
public abstract record VmStop
{
    public abstract VmOutcome Outcome();

    public sealed record PowerOff : VmStop
    {
        public override VmOutcome Outcome() => VmOutcome.PoweredOff;
    }

    public sealed record Reset : VmStop
    {
        public override VmOutcome Outcome() => VmOutcome.Reset;
    }

    public sealed record Failure(string Report) : VmStop
    {
        public override VmOutcome Outcome() => VmOutcome.NewCrashed(Report);
    }

    /// `VcpuStates`: each vCPU's registers when it was stopped (FailureReport), for finding where a guest hangs.
    public sealed record TimedOut(TimeSpan Limit, string VcpuStates) : VmStop
    {
        public override VmOutcome Outcome() => VmOutcome.NewTimedOut(Limit, VcpuStates);
    }

    /// Stopped from outside the guest (VirtualMachine.Stop): the control plane, a lost node, a failed pager.
    public sealed record Stopped(string Reason) : VmStop
    {
        public override VmOutcome Outcome() => VmOutcome.NewStopped(Reason);
    }
}
