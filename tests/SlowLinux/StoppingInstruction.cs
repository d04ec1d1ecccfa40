using System.Globalization;
using System.Text.RegularExpressions;

namespace SsiHv.Tests.SlowLinux;

/// <summary>
/// Names the instruction a guest stopped on, from the failure report `ssihv run` prints on exit 1
/// (shell/Vmm/Vcpu/FailureReport.cs: "RIP …" and "bytes at RIP (guest-physical 0x…): HEX"). Only the
/// instructions that matter on this host are known (DESIGN.md §5: kvm_pvm cannot emulate int3,
/// lock cmpxchg16b, xsave/xrstor, x87 fwait/fninit at CPL0) plus the usual privileged suspects; anything else
/// is reported as its opcode bytes, never guessed.
/// </summary>
public sealed record StoppingInstruction(string Exit, ulong? Rip, byte[] Bytes, string Name)
{
    static readonly Regex RipPattern = new(@"\bRIP ([0-9A-Fa-f]{16})\b", RegexOptions.Compiled);
    static readonly Regex BytesPattern = new(@"bytes at RIP \(guest-physical 0x[0-9A-Fa-f]+\): ([0-9A-Fa-f]+)", RegexOptions.Compiled);
    static readonly Regex ExitPattern = new(@"vCPU \d+: (.*)$", RegexOptions.Compiled | RegexOptions.Multiline);

    /// Null when the text holds no failure report (the guest powered off, reset or timed out).
    public static StoppingInstruction? FromReport(string report)
    {
        var exit = ExitPattern.Match(report);
        if (!exit.Success)
            return null;
        var rip = RipPattern.Match(report);
        var bytes = BytesPattern.Match(report);
        var code = bytes.Success ? Convert.FromHexString(bytes.Groups[1].Value) : [];
        return new StoppingInstruction(
            exit.Groups[1].Value.Trim(),
            rip.Success ? ulong.Parse(rip.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : null,
            code,
            code.Length == 0 ? "unknown (the report has no instruction bytes)" : Decode(code));
    }

    public override string ToString() =>
        $"{Exit}; RIP {(Rip is { } r ? $"0x{r:x16}" : "unknown")}; instruction {Name} (bytes {Convert.ToHexString(Bytes)})";

    /// Legacy prefixes and REX, then the opcodes of interest (Intel SDM vol. 2, opcode map, appendix A).
    public static string Decode(ReadOnlySpan<byte> code)
    {
        var prefixes = new List<string>();
        var rexW = false;
        var i = 0;
        for (; i < code.Length; i++)
        {
            var b = code[i];
            if (b == 0xF0) prefixes.Add("lock");
            else if (b == 0xF2) prefixes.Add("repne");
            else if (b == 0xF3) prefixes.Add("rep");
            else if (b is 0x66 or 0x67 or 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65) { }
            else if (b is >= 0x40 and <= 0x4F) { rexW = (b & 0x08) != 0; i++; break; }
            else break;
        }
        var name = i < code.Length ? Opcode(code[i..], rexW) : "(bytes end in the prefixes)";
        return prefixes.Count == 0 ? name : $"{string.Join(' ', prefixes)} {name}";
    }

    static int Reg(ReadOnlySpan<byte> code, int at) => at < code.Length ? (code[at] >> 3) & 7 : -1;
    static bool RegisterForm(ReadOnlySpan<byte> code, int at) => at < code.Length && code[at] >= 0xC0;

    static string Opcode(ReadOnlySpan<byte> op, bool rexW)
    {
        switch (op[0])
        {
            case 0xCC: return "int3";
            case 0xCD: return op.Length > 1 ? $"int 0x{op[1]:x2}" : "int n";
            case 0xF4: return "hlt";
            case 0xFA: return "cli";
            case 0xFB: return "sti";
            case 0x9B: return "fwait (x87)";
            case 0xE4 or 0xE5 or 0xEC or 0xED: return "in (port I/O)";
            case 0xE6 or 0xE7 or 0xEE or 0xEF: return "out (port I/O)";
            case >= 0xD8 and <= 0xDF: return X87(op);
            case 0x0F when op.Length > 1: return TwoByte(op, rexW);
            default: return $"opcode 0x{op[0]:x2} (not one this decoder names)";
        }
    }

    static string X87(ReadOnlySpan<byte> op) =>
        op.Length > 1 && op[0] == 0xDB && op[1] == 0xE3 ? "fninit (x87)"
        : op.Length > 1 && op[0] == 0xDB && op[1] == 0xE2 ? "fnclex (x87)"
        : op.Length > 1 && op[0] == 0xDF && op[1] == 0xE0 ? "fnstsw ax (x87)"
        : op.Length > 1 && op[0] == 0xD9 && Reg(op, 1) == 7 && !RegisterForm(op, 1) ? "fnstcw (x87)"
        : op.Length > 1 && op[0] == 0xD9 && Reg(op, 1) == 5 && !RegisterForm(op, 1) ? "fldcw (x87)"
        : $"x87 escape 0x{op[0]:x2}";

    static string TwoByte(ReadOnlySpan<byte> op, bool rexW)
    {
        switch (op[1])
        {
            case 0x01 when op.Length > 2:
                return op[2] switch
                {
                    0xC1 => "vmcall",
                    0xD9 => "vmmcall",
                    0xD0 => "xgetbv",
                    0xD1 => "xsetbv",
                    0xCA => "clac",
                    0xCB => "stac",
                    0xF8 => "swapgs",
                    0xF9 => "rdtscp",
                    0xC8 => "monitor",
                    0xC9 => "mwait",
                    0xEE => "rdpkru",
                    0xEF => "wrpkru",
                    _ => Reg(op, 2) switch
                    {
                        0 => "sgdt",
                        1 => "sidt",
                        2 => "lgdt",
                        3 => "lidt",
                        4 => "smsw",
                        6 => "lmsw",
                        7 => "invlpg",
                        _ => $"0F 01 group, ModRM 0x{op[2]:x2}",
                    },
                };
            case 0x05: return "syscall";
            case 0x07: return "sysret";
            case 0x08: return "invd";
            case 0x09: return "wbinvd";
            case 0x0B: return "ud2";
            case 0x0D: return "prefetch";
            case 0x20: return "mov from a control register";
            case 0x22: return "mov to a control register";
            case 0x21 or 0x23: return "mov with a debug register";
            case 0x30: return "wrmsr";
            case 0x31: return "rdtsc";
            case 0x32: return "rdmsr";
            case 0x33: return "rdpmc";
            case 0x34: return "sysenter";
            case 0xA2: return "cpuid";
            case 0xAE when op.Length > 2:
                if (RegisterForm(op, 2))
                    return Reg(op, 2) switch { 5 => "lfence", 6 => "mfence", 7 => "sfence", var r => $"0F AE /{r} (register form)" };
                return Reg(op, 2) switch
                {
                    0 => rexW ? "fxsave64" : "fxsave",
                    1 => rexW ? "fxrstor64" : "fxrstor",
                    2 => "ldmxcsr",
                    3 => "stmxcsr",
                    4 => rexW ? "xsave64" : "xsave",
                    5 => rexW ? "xrstor64" : "xrstor",
                    6 => rexW ? "xsaveopt64" : "xsaveopt",
                    _ => "clflush",
                };
            case 0xC7 when op.Length > 2:
                return Reg(op, 2) switch
                {
                    1 => rexW ? "cmpxchg16b" : "cmpxchg8b",
                    3 => rexW ? "xrstors64" : "xrstors",
                    4 => rexW ? "xsavec64" : "xsavec",
                    5 => rexW ? "xsaves64" : "xsaves",
                    6 => "rdrand",
                    7 => "rdseed",
                    var r => $"0F C7 /{r}",
                };
            case 0xB0 or 0xB1: return "cmpxchg";
            case 0xC0 or 0xC1: return "xadd";
            default: return $"opcode 0x0f 0x{op[1]:x2} (not one this decoder names)";
        }
    }
}
