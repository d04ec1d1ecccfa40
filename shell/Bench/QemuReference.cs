using System.Globalization;
using SsiHv.Core.Topology;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The reference boot: QEMU on the same KVM, booting the same guest (the probe ELF through PVH, or the same Linux
/// kernel and initramfs) with the same CPUs, memory, NUMA nodes, distances, HMAT and command line, in the fastest
/// configuration that lets the probe finish here (measured on kvm_pvm, see docs/performance.md):
/// <list type="bullet">
/// <item><c>-M pc -bios qboot.rom</c>: qboot loads the PVH kernel and QEMU's ACPI tables in about 0.3 s;</item>
/// <item>not SeaBIOS (the default <c>pc</c>/<c>q35</c> firmware: 4–6 s here, nearly all of it BIOS POST);</item>
/// <item>not <c>-M microvm,acpi=on</c>: its hardware-reduced FADT has no PM1a control block, so the probe cannot
/// power off and the run never ends.</item>
/// </list>
/// For the probe, <c>-cpu qemu64</c>, QEMU's own default model (<c>-cpu host</c> failed on kvm_pvm hosts). For
/// Linux, <c>-cpu host</c>: our VMM gives Linux what KVM supports (KVM_GET_SUPPORTED_CPUID), and so does that
/// model, so both kernels take the same paths (kvm-clock, the same TSC, the same CPU features).
/// </summary>
public static class QemuReference
{
    public const string Executable = "qemu-system-x86_64";

    public static BootCommand Command(CoreTopology topology, BootGuest guest)
    {
        var arguments = new List<string>
        {
            "-accel", "kvm",
            // smm=off: no SMRAM setup; max-ram-below-4g=3G: the 3 GiB RAM / 1 GiB MMIO split of docs/design.md §4.3.
            "-M", "pc,smm=off,max-ram-below-4g=3G" + (QemuNumaOptions.DescribesHmat(topology) ? ",hmat=on" : ""),
            "-bios", "qboot.rom",
            "-cpu", guest is BootGuest.Linux ? "host" : "qemu64",
            "-smp", Text(TopologyModule.totalCpus(topology)),
            "-m", $"{TopologyModule.totalMemoryMiB(topology)}M",
            "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
            "-append", guest.Append,
        };
        switch (guest)
        {
            case BootGuest.Probe probe:
                arguments.AddRange(["-kernel", probe.Elf]);
                break;
            case BootGuest.Linux linux:
                arguments.AddRange(["-kernel", linux.Kernel]);
                if (linux.Initrd is { } initrd)
                    arguments.AddRange(["-initrd", initrd]);
                break;
        }

        arguments.AddRange(QemuNumaOptions.Arguments(topology));

        return new BootCommand(Executable, arguments, new Dictionary<string, string>());
    }

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
