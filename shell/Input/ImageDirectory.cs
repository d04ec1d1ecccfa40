using System.Runtime.InteropServices;
using Microsoft.FSharp.Core;
using SsiHv.Core.Input;
using SsiHv.Core.Vm;
using SsiHv.Interop.Linux;

namespace SsiHv.Shell.Input;

/// <summary>
/// The boot node's <c>imageDirectory</c> (docs/operations.md, "Limits"): resolves the kernel and initrd paths of
/// a VM request with realpath(3) and lets the core's <see cref="ImagePath"/> decide whether they may be read.
/// Nothing is opened here, so a refused path is never read; an admitted request names the canonical paths.
/// </summary>
public sealed class ImageDirectory(string? configured)
{
    readonly FSharpOption<string>? directory = configured is null ? null : FSharpOption<string>.Some(configured);

    /// The request with its files' canonical paths, or the first refusal (kernel before initrd).
    public FSharpResult<VmRequest, ImagePath.ImagePathRefusal> Admit(VmRequest request)
    {
        if (request.Guest.Image is not GuestImage.Kernel kernel)
            return FSharpResult<VmRequest, ImagePath.ImagePathRefusal>.NewOk(request);
        var kernelPath = Admit("kernel", kernel.path);
        if (kernelPath.IsError)
            return FSharpResult<VmRequest, ImagePath.ImagePathRefusal>.NewError(kernelPath.ErrorValue);
        FSharpOption<string>? initrdPath = null;
        if (kernel.initrd?.Value is { } initrd)
        {
            var admitted = Admit("initrd", initrd);
            if (admitted.IsError)
                return FSharpResult<VmRequest, ImagePath.ImagePathRefusal>.NewError(admitted.ErrorValue);
            initrdPath = FSharpOption<string>.Some(admitted.ResultValue);
        }
        var guest = new Guest(GuestImage.NewKernel(kernelPath.ResultValue, initrdPath), request.Guest.Append);
        return FSharpResult<VmRequest, ImagePath.ImagePathRefusal>.NewOk(new VmRequest(guest, request.Timeout));
    }

    /// <summary>
    /// Why the file `requested` for `field` may not be read, given the path the kernel says its open descriptor has
    /// (<see cref="InputFiles.Read(string, InputFile.InputKind, Func{string, string?}?)"/>); null when it may. This
    /// closes the gap between the check of a request and the read at the VM's start, in which a path inside
    /// could have been swapped for a symlink leading out. As at the request, the refusal names the path asked
    /// for, not where it leads.
    /// </summary>
    public string? RefusalOfOpened(string field, string requested, string openedPath)
    {
        var checkedFirst = ImagePath.precheck(directory, field, requested);
        var admitted = checkedFirst.IsError
            ? FSharpResult<string, ImagePath.ImagePathRefusal>.NewError(checkedFirst.ErrorValue)
            : ImagePath.admit(configured!, Resolve(configured!), field, requested, ImagePath.Resolution.NewResolved(openedPath));
        return admitted.IsError ? ImagePath.ImagePathRefusalModule.text(admitted.ErrorValue) : null;
    }

    FSharpResult<string, ImagePath.ImagePathRefusal> Admit(string field, string path)
    {
        var checkedFirst = ImagePath.precheck(directory, field, path);
        if (checkedFirst.IsError)
            return FSharpResult<string, ImagePath.ImagePathRefusal>.NewError(checkedFirst.ErrorValue);
        // Resolved per request, so a directory created or moved after start-up is seen as it is now.
        return ImagePath.admit(configured!, Resolve(configured!), field, path, Resolve(path));
    }

    static ImagePath.Resolution Resolve(string path)
    {
        try
        {
            return ImagePath.Resolution.NewResolved(CanonicalPath.Resolve(path));
        }
        catch (LinuxError e)
        {
            return ImagePath.Resolution.NewUnresolvable(Marshal.GetPInvokeErrorMessage(e.Errno));
        }
    }
}
