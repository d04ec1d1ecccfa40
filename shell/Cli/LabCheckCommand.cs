using SsiHv.Shell.Vmm.Hypervisor.Kvm;

namespace SsiHv.Shell.Cli;

/// <summary>
/// <c>ssihv lab check</c>: whether this host runs VMs itself or needs lab machines; run.sh and test.sh choose
/// with it. Exit 0 when /dev/kvm opens and KVM_CREATE_VM succeeds, 1 when not; one line says which and why.
/// </summary>
public sealed class LabCheckCommand : ICommand
{
    public CommandSyntax Syntax { get; } = new(
        "lab check",
        "tell whether this host has a usable KVM (exit 0) or needs lab machines (exit 1)",
        "Opens /dev/kvm and creates a VM. Exit 0 and 'native' when that works: VMs, tests and the main job run\n"
        + "on this host. Exit 1 and 'lab' with the reason when it does not: they run in lab machines (docs/lab.md).",
        [],
        []);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        if (HostKvm.Unavailable() is { } reason)
        {
            output.WriteLine($"lab: this host has no usable KVM ({reason}); VMs run in lab machines");
            return ExitCodes.Failure;
        }
        output.WriteLine("native: /dev/kvm opens and KVM_CREATE_VM succeeds; VMs run on this host");
        return ExitCodes.Success;
    }
}
