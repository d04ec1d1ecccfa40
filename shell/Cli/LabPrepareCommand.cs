using SsiHv.Shell.Lab;

namespace SsiHv.Shell.Cli;

/// <summary><c>ssihv lab prepare</c>: builds the lab image (kernel + initramfs, docs/lab.md) once; later calls only check it.</summary>
public sealed class LabPrepareCommand : ICommand
{
    public CommandSyntax Syntax { get; } = new(
        "lab prepare",
        "download Debian's kernel and build the lab image (idempotent)",
        $"Downloads the kernel package linux-image-amd64 depends on (unpacked, never installed), reads its\n"
        + "modules.dep for the modules the lab needs, and writes the kernel and the lab initramfs to the lab\n"
        + $"directory (${LabImage.DirectoryVariable}, else .guest-cache/lab in the repository, else ~/.cache/ssihv/lab).",
        [],
        []);

    public int Run(ParsedArguments arguments, TextWriter output)
    {
        try
        {
            var image = LabImage.Prepare(LabImage.DefaultDirectory(), output);
            output.WriteLine($"ssihv lab prepare: kernel {image.Kernel} ({image.Release}), initramfs {image.Initramfs}");
            return ExitCodes.Success;
        }
        catch (LabException e)
        {
            throw CliException.Failure($"ssihv lab prepare: {e.Message}");
        }
    }
}
