using System.Text.Json;
using SsiHv.Core.Vm;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Nodes;
using Xunit;

namespace SsiHv.Tests.Control;

/// <summary>
/// The kernel and initrd a POST /v1/vm names are read only from the boot node's imageDirectory
/// (docs/operations.md, "Limits"), on a real node host over HTTP, with real files and symlinks.
/// </summary>
public sealed class ImageDirectoryTests : IDisposable
{
    const string SecretContent = "TOP-SECRET-CONTENT-OF-A-FILE-OUTSIDE";
    readonly DirectoryInfo scratch = Directory.CreateTempSubdirectory("ssihv-images-test-");
    readonly string images;
    readonly string secret;

    public ImageDirectoryTests()
    {
        images = Directory.CreateDirectory(Path.Combine(scratch.FullName, "images")).FullName;
        File.WriteAllBytes(Path.Combine(images, "vmlinuz"), [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        File.WriteAllBytes(Path.Combine(images, "initrd.img"), [0x30, 0x37, 0x30, 0x37]);
        secret = Path.Combine(scratch.FullName, "secret");
        File.WriteAllText(secret, SecretContent);
        File.CreateSymbolicLink(Path.Combine(images, "escape"), "../secret");
    }

    public void Dispose() => scratch.Delete(recursive: true);

    static string KernelBody(string kernel, string? initrd = null) => JsonSerializer.Serialize(
        initrd is null ? new Dictionary<string, string> { ["kernel"] = kernel } : new() { ["kernel"] = kernel, ["initrd"] = initrd });

    static void AssertRefused((int Status, string ContentType, JsonElement Body) reply, int status, string detailContains)
    {
        Assert.Equal(status, reply.Status);
        Assert.Equal("application/problem+json", reply.ContentType);
        var detail = reply.Body.GetProperty("detail").GetString()!;
        Assert.Contains(detailContains, detail);
        Assert.DoesNotContain(SecretContent, reply.Body.GetRawText());
    }

    static async Task AssertNoVmStarted(ControlCluster cluster, NodeHost boot, RecordingEffects effects)
    {
        Assert.Equal("notStarted", (await cluster.GetAsync(boot, "/v1/vm")).Body.GetProperty("state").GetString());
        Assert.DoesNotContain(effects.Calls, call => call.StartsWith("start vm", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_an_image_directory_every_kernel_path_is_403_saying_how_to_allow_it()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync();

        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(secret)), 403, "set \"imageDirectory\"");
        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(Path.Combine(images, "vmlinuz"))), 403, "boot node's config");
        await AssertNoVmStarted(cluster, boot, effects);
        Assert.Equal(202, (await cluster.PostAsync(boot, "/v1/vm", """{"guest":"probe"}""")).Status);
    }

    [Fact]
    public async Task A_path_outside_the_image_directory_is_403_and_its_content_is_never_in_the_reply()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync(imageDirectory: images);

        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(secret)), 403, $"kernel: {secret} is not inside the boot node's imageDirectory {images}");
        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody($"{images}/../secret")), 403, "is not inside");
        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(Path.Combine(images, "vmlinuz"), secret)), 403, "initrd: ");
        // A missing file outside is refused as any other, so the reply does not tell which files exist there.
        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody("/nonexistent/vmlinuz")), 403, "is not inside");
        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(images)), 403, "is not inside");
        await AssertNoVmStarted(cluster, boot, effects);
    }

    [Fact]
    public async Task A_symlink_inside_that_leads_outside_is_403()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync(imageDirectory: images);

        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(Path.Combine(images, "escape"))), 403, "(symlinks and .. resolved)");
        await AssertNoVmStarted(cluster, boot, effects);
    }

    [Theory]
    [InlineData("vmlinuz", "kernel: expected an absolute path on the boot node")]
    [InlineData("./images/vmlinuz", "kernel: expected an absolute path on the boot node")]
    [InlineData("/srv/vm\u0000linuz", "kernel: expected a path without NUL characters")]
    public async Task A_relative_path_or_one_with_NUL_is_400(string kernel, string detail)
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync(imageDirectory: images);

        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(kernel)), 400, detail);
        await AssertNoVmStarted(cluster, boot, effects);
    }

    [Fact]
    public async Task A_missing_file_inside_the_image_directory_is_400_naming_why()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync(imageDirectory: images);

        AssertRefused(await cluster.PostAsync(boot, "/v1/vm", KernelBody(Path.Combine(images, "missing"))), 400, "No such file or directory");
        await AssertNoVmStarted(cluster, boot, effects);
    }

    [Fact]
    public void A_file_opened_at_the_VMs_start_is_checked_again_by_where_its_descriptor_leads()
    {
        // As if `vmlinuz` had been swapped for a symlink leading out after the request was admitted.
        var images = new Shell.Input.ImageDirectory(this.images);
        var swapped = Path.Combine(this.images, "escape");

        var refused = Assert.Throws<Shell.Input.InputFileException>(() =>
            Shell.Input.InputFiles.Read(swapped, Core.Input.InputFile.InputKind.Kernel, opened => images.RefusalOfOpened("kernel", swapped, opened)));
        Assert.Equal($"{swapped}: kernel: {swapped} is not inside the boot node's imageDirectory {this.images} (symlinks and .. resolved); put the file there", refused.Message);
        Assert.DoesNotContain(SecretContent, refused.Message);
        var inside = Path.Combine(this.images, "vmlinuz");
        Assert.Equal([0x7f, (byte)'E', (byte)'L', (byte)'F'],
            Shell.Input.InputFiles.Read(inside, Core.Input.InputFile.InputKind.Kernel, opened => images.RefusalOfOpened("kernel", inside, opened)));
    }

    [Fact]
    public async Task Files_inside_are_accepted_and_the_VM_is_started_with_their_canonical_paths()
    {
        await using var cluster = new ControlCluster();
        var (boot, effects) = await cluster.StartBootAsync(imageDirectory: images);

        var reply = await cluster.PostAsync(boot, "/v1/vm", KernelBody($"{images}/./../images//vmlinuz", Path.Combine(images, "initrd.img")));

        Assert.Equal(202, reply.Status);
        await Support.Poll.UntilAsync("the VM started", ControlCluster.Patience,
            () => Task.FromResult(effects.Calls.Any(call => call.StartsWith("start vm", StringComparison.Ordinal))));
        var kernel = Assert.IsType<GuestImage.Kernel>(effects.StartedRequest!.Guest.Image);
        var canonical = CanonicalPath.Resolve(images);
        Assert.Equal(Path.Combine(canonical, "vmlinuz"), kernel.path);
        Assert.Equal(Path.Combine(canonical, "initrd.img"), kernel.initrd?.Value);
    }
}
