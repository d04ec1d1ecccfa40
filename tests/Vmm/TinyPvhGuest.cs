using SsiHv.Tests.Support;

namespace SsiHv.Tests.Vmm;

/// <summary>
/// Minimal PVH kernels assembled with gcc at test time: a XEN_ELFNOTE_PHYS32_ENTRY note and a few
/// instructions, for driving the VMM's failure paths (a crash, a guest that never stops).
/// </summary>
public static class TinyPvhGuest
{
    /// `body` is 32-bit GNU assembly placed at the PVH entry point.
    public static string Build(string directory, string name, string body)
    {
        var source = Path.Combine(directory, name + ".S");
        File.WriteAllText(source, $$"""
            .section .note.Xen, "a"
            .align 4
            .long 4, 4, 18      /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
            .asciz "Xen"
            .long entry
            .text
            .code32
            .globl entry
            entry:
            {{body}}
            """);
        var elf = Path.Combine(directory, name + ".elf");
        ExternalProcess.Output("gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-Ttext=0x200000", "-Wl,--build-id=none", "-o", elf, source);
        return elf;
    }
}
