using SsiHv.Interop.Kvm;
using SsiHv.Interop.Linux;

namespace SsiHv.Shell.Vmm.Hypervisor.Kvm;

/// <summary>
/// This host's KVM: whether it can create VMs, and the one error a user sees when it cannot, naming the cause
/// and the way out (a lab machine, docs/lab.md) instead of an internal error.
/// </summary>
public static class HostKvm
{
    const string WayOut = "run it in a lab machine, real KVM one level down: ssihv lab exec -- ssihv ... (docs/lab.md)";

    /// Opens /dev/kvm; a host without a usable KVM is a <see cref="VmFailureException"/> saying so.
    public static IHypervisor Open()
    {
        try
        {
            return new KvmHypervisor(KvmSystem.Open());
        }
        catch (Exception e) when (e is LinuxError or InvalidOperationException)
        {
            throw new VmFailureException($"{e.Message}: this host has no usable KVM; {WayOut}");
        }
    }

    /// Null when /dev/kvm opens and KVM_CREATE_VM succeeds; else why not, in one line.
    public static string? Unavailable()
    {
        try
        {
            using var kvm = KvmSystem.Open();
            using var vm = kvm.CreateVm();
            return null;
        }
        catch (Exception e) when (e is LinuxError or InvalidOperationException)
        {
            return e.Message;
        }
    }
}
