using SsiHv.Core.Boot;

namespace SsiHv.Shell.Vmm.Boot;

/// <summary>
/// Reads a kernel file and asks the core for its boot plan: an ELF goes through PVH (its
/// XEN_ELFNOTE_PHYS32_ENTRY note), anything else through the Linux bzImage protocol. Errors name the file.
/// </summary>
public static class KernelLoader
{
    static ReadOnlySpan<byte> ElfMagic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    public static BootPlan.Plan Plan(string kernelPath, byte[] kernel, BootPlan.BootInputs inputs)
    {
        var plan = kernel.AsSpan().StartsWith(ElfMagic)
            ? Pvh.parse(kernelPath, kernel).Bind(k => Pvh.plan(k, inputs))
            : BzImage.parse(kernelPath, kernel).Bind(k => BzImage.plan(k, inputs));
        return plan.IsOk ? plan.ResultValue : throw new BootInputException(plan.ErrorValue);
    }

    static Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, string> Bind<T>(
        this Microsoft.FSharp.Core.FSharpResult<T, string> result, Func<T, Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, string>> next) =>
        result.IsOk ? next(result.ResultValue) : Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, string>.NewError(result.ErrorValue);
}

/// <summary>The kernel, initrd or command line cannot be booted as given (exit 2).</summary>
public sealed class BootInputException(string message) : Exception(message);
