using SsiHv.Shell.Vmm.Hypervisor;

namespace SsiHv.Shell.Vmm.Memory;

/// <summary>
/// Hands guest memory, already allocated and mapped, to a VM: one memory slot per region, numbered in region order.
/// Kept apart from <see cref="GuestMemory"/> so that allocating guest RAM needs no hypervisor.
/// </summary>
public static class GuestMemoryRegistration
{
    public static void RegisterWith(this GuestMemory memory, IHypervisorVm vm)
    {
        for (var slot = 0; slot < memory.Regions.Count; slot++)
        {
            var region = memory.Regions[slot];
            vm.MapMemory((uint)slot, region.GuestAddress, region.Mapping.Length, region.Mapping.Address);
        }
    }
}
