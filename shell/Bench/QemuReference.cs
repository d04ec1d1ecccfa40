using System.Globalization;
using SsiHv.Core.Topology;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The reference boot: QEMU on the same KVM, booting the same probe ELF through PVH with the same CPUs, memory,
/// NUMA nodes, distances, HMAT and command line, in the fastest configuration that lets the probe finish here
/// (measured on kvm_pvm, see docs/performance.md):
/// <list type="bullet">
/// <item><c>-M pc -bios qboot.rom</c>: qboot loads the PVH kernel and QEMU's ACPI tables in about 0.3 s;</item>
/// <item>not SeaBIOS (the default <c>pc</c>/<c>q35</c> firmware: 4–6 s here, nearly all of it BIOS POST);</item>
/// <item>not <c>-M microvm,acpi=on</c>: its hardware-reduced FADT has no PM1a control block, so the probe cannot
/// power off and the run never ends.</item>
/// </list>
/// <c>-cpu host</c> fails on this host; <c>qemu64</c> is QEMU's own default model.
/// </summary>
public static class QemuReference
{
    public const string Executable = "qemu-system-x86_64";

    public static BootCommand Command(CoreTopology topology, string probeElf, string append)
    {
        var arguments = new List<string>
        {
            "-accel", "kvm",
            // smm=off: no SMRAM setup; max-ram-below-4g=3G: the 3 GiB RAM / 1 GiB MMIO split of docs/design.md §4.3.
            "-M", "pc,smm=off,max-ram-below-4g=3G" + (QemuNumaOptions.DescribesHmat(topology) ? ",hmat=on" : ""),
            "-bios", "qboot.rom",
            "-cpu", "qemu64",
            "-smp", Text(TopologyModule.totalCpus(topology)),
            "-m", $"{TopologyModule.totalMemoryMiB(topology)}M",
            "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
            "-kernel", probeElf,
            "-append", append,
        };

        arguments.AddRange(QemuNumaOptions.Arguments(topology));

        return new BootCommand(Executable, arguments, new Dictionary<string, string>());
    }

    static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
