using System.Text;
using SsiHv.Shell.Vmm.Hypervisor;
using SsiHv.Shell.Vmm.Memory;

namespace SsiHv.Shell.Vmm.Vcpu;

/// <summary>
/// What a person needs when a guest dies: the exit, the registers, and the instruction bytes at RIP (found
/// through the guest's own page tables when paging is on).
/// </summary>
public static class FailureReport
{
    const int InstructionBytes = 16;

    public static string Describe(IVcpu vcpu, GuestMemory memory, string what)
    {
        var text = new StringBuilder($"vCPU {vcpu.Id}: {what}\n");
        try
        {
            var r = vcpu.GetRegisters();
            var s = vcpu.GetSpecialRegisters();
            text.AppendLine($"  RIP {r.Rip:X16}  RFLAGS {r.Rflags:X16}  RSP {r.Rsp:X16}  RBP {r.Rbp:X16}");
            text.AppendLine($"  RAX {r.Rax:X16}  RBX {r.Rbx:X16}  RCX {r.Rcx:X16}  RDX {r.Rdx:X16}");
            text.AppendLine($"  RSI {r.Rsi:X16}  RDI {r.Rdi:X16}  R8  {r.R8:X16}  R9  {r.R9:X16}");
            text.AppendLine($"  CS {s.Cs.Selector:X4} base {s.Cs.Base:X} L={s.Cs.L} D={s.Cs.Db}  CR0 {s.Cr0:X}  CR2 {s.Cr2:X}  CR3 {s.Cr3:X}  CR4 {s.Cr4:X}  EFER {s.Efer:X}");
            if (Core.Vcpu.ResetState.isResetState(r.Rip, s.Cs.Selector, s.Cs.Base))
            {
                // AMD's VMCB is undefined after a shutdown intercept, so kvm-amd re-initialises the vCPU: what the
                // guest was doing is gone. (kvm-intel keeps it.)
                text.AppendLine("  these are the registers of a vCPU just reset (kvm-amd resets a vCPU on a triple fault): where the guest failed is not known");
                return text.ToString().TrimEnd();
            }
            var physical = Translate(memory, s, s.Cs.Base + r.Rip);
            if (physical is { } address)
            {
                var bytes = new byte[InstructionBytes];
                memory.Read(address, bytes);
                text.AppendLine($"  bytes at RIP (guest-physical 0x{address:X}): {Convert.ToHexString(bytes)}");
            }
            else
                text.AppendLine("  bytes at RIP: RIP is not mapped by the guest's page tables");
        }
        catch (Exception e) when (e is GuestMemoryException or Interop.Linux.LinuxError)
        {
            text.AppendLine($"  (state unavailable: {e.Message})");
        }
        return text.ToString().TrimEnd();
    }

    /// A 4-level page walk (4 KiB, 2 MiB and 1 GiB pages) when CR0.PG is set; identity otherwise.
    static ulong? Translate(GuestMemory memory, SpecialRegisters s, ulong linear)
    {
        const ulong present = 1, largePage = 0x80, addressMask = 0x000F_FFFF_FFFF_F000;
        if ((s.Cr0 & 0x8000_0000) == 0)
            return linear;
        var table = s.Cr3 & addressMask;
        Span<byte> entryBytes = stackalloc byte[8];
        for (var level = 3; level >= 0; level--)
        {
            var index = (linear >> (12 + 9 * level)) & 0x1FF;
            memory.Read(table + index * 8, entryBytes);
            var entry = BitConverter.ToUInt64(entryBytes);
            if ((entry & present) == 0)
                return null;
            if (level is 1 or 2 && (entry & largePage) != 0)
            {
                var pageMask = (1UL << (12 + 9 * level)) - 1;
                return (entry & addressMask & ~pageMask) | (linear & pageMask);
            }
            table = entry & addressMask;
        }
        return table | (linear & 0xFFF);
    }
}
