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
        if (kernel.AsSpan().StartsWith(ElfMagic))
        {
            var pvh = Pvh.parse(kernelPath, kernel).Bind(k => Pvh.plan(k, inputs));
            return pvh.IsOk ? pvh.ResultValue : throw new BootInputException(Pvh.PvhErrorModule.text(pvh.ErrorValue));
        }
        var bzImage = BzImage.parse(kernelPath, kernel).Bind(k => BzImage.plan(k, inputs));
        return bzImage.IsOk ? bzImage.ResultValue : throw new BootInputException(BzImage.BzImageErrorModule.text(bzImage.ErrorValue));
    }

    static Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, TError> Bind<T, TError>(
        this Microsoft.FSharp.Core.FSharpResult<T, TError> result, Func<T, Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, TError>> next) =>
        result.IsOk ? next(result.ResultValue) : Microsoft.FSharp.Core.FSharpResult<BootPlan.Plan, TError>.NewError(result.ErrorValue);
}

/// <summary>The kernel, initrd or command line cannot be booted as given (exit 2).</summary>
public sealed class BootInputException(string message) : Exception(message);
