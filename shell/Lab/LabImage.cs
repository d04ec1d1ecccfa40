using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using SsiHv.Core.Boot;
using SsiHv.Core.Lab;
using SsiHv.Shell.Processes;

namespace SsiHv.Shell.Lab;

/// <summary>The two files a lab machine boots: the kernel (an ELF with a PVH note) and the lab initramfs.</summary>
public sealed record LabImageFiles(string Kernel, string Initramfs, string Release);

/// <summary>
/// Prepares and finds the lab image (docs/lab.md) in one directory: Debian's kernel package is downloaded with
/// apt-get and unpacked with dpkg (never installed), depmod writes its modules.dep, and core LabImage decides the
/// modules and the archive. Idempotent: a stamp records what the image was built from, so a second call only
/// reads it, and a changed /init or module list rebuilds the initramfs without downloading again.
/// </summary>
public static class LabImage
{
    public const string DirectoryVariable = "SSIHV_LAB_DIR";
    static readonly TimeSpan DownloadTimeout = TimeSpan.FromMinutes(10);
    static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);
    static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(15);
    const string KernelFile = "vmlinux";
    const string InitramfsFile = "initramfs.cpio";
    const string StampFile = "image.stamp";
    /// Kept beside the image: the module list can be checked against the kernel's own dependency data.
    static readonly string[] ModuleIndexFiles = ["modules.dep", "modules.builtin"];
    const string Busybox = "/bin/busybox";

    /// $SSIHV_LAB_DIR, else .guest-cache/lab in the repository this ssihv was built in, else ~/.cache/ssihv/lab.
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured)
            return Path.GetFullPath(configured);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SsiHv.sln")))
                return Path.Combine(dir.FullName, ".guest-cache", "lab");
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "ssihv", "lab");
    }

    /// The image in `directory`, built first if it is missing or stale; progress goes to `progress`.
    public static LabImageFiles Prepare(string directory, TextWriter progress)
    {
        Directory.CreateDirectory(directory);
        using var held = Lock(directory);
        var init = InitScript();
        var busybox = ReadBusybox();
        var package = CachedPackage(directory) ?? DownloadPackage(directory, progress);
        var release = LabImageRelease(package);
        var stamp = string.Join('\n', Path.GetFileName(package), Hash(init), Hash(busybox), string.Join(',', Core.Lab.ImageLayout.moduleRoots));
        var files = new LabImageFiles(Path.Combine(directory, KernelFile), Path.Combine(directory, InitramfsFile), release);
        var stampPath = Path.Combine(directory, StampFile);
        if (ModuleIndexFiles.Append(files.Kernel).Append(files.Initramfs).All(f => File.Exists(Path.Combine(directory, f)))
            && File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp)
            return files;

        progress.WriteLine($"ssihv lab: building the lab image from {Path.GetFileName(package)} in {directory}");
        File.Delete(stampPath);
        var unpacked = Path.Combine(directory, "unpacked");
        if (Directory.Exists(unpacked))
            Directory.Delete(unpacked, recursive: true);
        try
        {
            Tool("dpkg", ["-x", package, unpacked], "apt-get install dpkg");
            Tool("depmod", ["-b", unpacked, release], "apt-get install kmod");
            var modulesRoot = Path.Combine(unpacked, "lib", "modules", release);
            var index = KernelModules.parse(
                File.ReadAllText(Path.Combine(modulesRoot, "modules.dep")), File.ReadAllText(Path.Combine(modulesRoot, "modules.builtin")));
            if (index.IsError)
                throw new LabException($"{modulesRoot}: {index.ErrorValue}");
            var order = KernelModules.loadOrder(index.ResultValue, Core.Lab.ImageLayout.moduleRoots);
            if (order.IsError)
                throw new LabException($"{Path.GetFileName(package)}: {order.ErrorValue}");
            var modules = order.ResultValue.Select(path => Tuple.Create(path, File.ReadAllBytes(Path.Combine(modulesRoot, path)))).ToList();
            WriteAtomically(files.Initramfs, Core.Lab.ImageLayout.initramfs(busybox, init, Microsoft.FSharp.Collections.ListModule.OfSeq(modules)));
            ExtractVmlinux(Directory.GetFiles(Path.Combine(unpacked, "boot"), "vmlinuz-*").Single(), files.Kernel);
            foreach (var file in ModuleIndexFiles)
                File.Copy(Path.Combine(modulesRoot, file), Path.Combine(directory, file), overwrite: true);
            File.WriteAllText(stampPath, stamp);
            progress.WriteLine($"ssihv lab: image ready: kernel {release}, {modules.Count} modules ({string.Join(' ', modules.Select(m => KernelModules.nameOfPath(m.Item1)))})");
            return files;
        }
        finally
        {
            if (Directory.Exists(unpacked))
                Directory.Delete(unpacked, recursive: true);
        }
    }

    static string LabImageRelease(string package)
    {
        // linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb
        var name = Path.GetFileName(package).Split('_')[0];
        return Core.Lab.ImageLayout.kernelRelease(name);
    }

    static string? CachedPackage(string directory) =>
        Directory.GetFiles(directory, "linux-image-*.deb").OrderDescending(StringComparer.Ordinal).FirstOrDefault();

    static string DownloadPackage(string directory, TextWriter progress)
    {
        var depends = Tool("apt-cache", ["depends", "linux-image-amd64"], "apt-get install apt");
        var package = Core.Lab.ImageLayout.kernelPackage(depends);
        if (package.IsError)
        {
            progress.WriteLine("ssihv lab: apt-cache does not know linux-image-amd64; running apt-get update");
            Tool("apt-get", ["update", "-qq"], "apt-get install apt", DownloadTimeout);
            package = Core.Lab.ImageLayout.kernelPackage(Tool("apt-cache", ["depends", "linux-image-amd64"], "apt-get install apt"));
            if (package.IsError)
                throw new LabException(package.ErrorValue);
        }
        progress.WriteLine($"ssihv lab: downloading {package.ResultValue} (unpacked, never installed)");
        // As root, apt hands downloads to its _apt sandbox user, which cannot write into our directory.
        Tool("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", package.ResultValue], "apt-get install apt", DownloadTimeout, directory);
        return CachedPackage(directory) ?? throw new LabException($"apt-get download {package.ResultValue} left no .deb in {directory}");
    }

    /// The ELF inside the bzImage: TCG then skips the xz decompression on every boot (seconds each).
    static void ExtractVmlinux(string vmlinuz, string destination)
    {
        var parsed = BzImage.parse(vmlinuz, File.ReadAllBytes(vmlinuz));
        if (parsed.IsError)
            throw new LabException(BzImage.BzImageErrorModule.text(parsed.ErrorValue));
        var payload = BzImage.compressedPayload(parsed.ResultValue);
        if (payload.IsError)
            throw new LabException(BzImage.BzImageErrorModule.text(payload.ErrorValue));
        var (offset, length) = payload.ResultValue.ToValueTuple();
        var temporary = destination + ".tmp";
        using (var output = File.Create(temporary))
            // --single-stream: the kernel build appends the 4-byte uncompressed size after the xz stream.
            HostCommand.Run("xz", ["-dc", "--single-stream"], ToolTimeout, m => new LabException(m), "apt-get install xz-utils",
                stdin: parsed.ResultValue.Image.AsMemory(offset, length), stdoutTo: output);
        var magic = new byte[4];
        using (var check = File.OpenRead(temporary))
            check.ReadExactly(magic);
        if (!magic.AsSpan().SequenceEqual("\u007fELF"u8))
            throw new LabException($"{vmlinuz}: the decompressed payload is not an ELF kernel");
        File.Move(temporary, destination, overwrite: true);
    }

    static string InitScript()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("lab-init.sh")
            ?? throw new InvalidOperationException("the lab's /init is not embedded in ssihv");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    static byte[] ReadBusybox()
    {
        if (!File.Exists(Busybox))
            throw new LabException($"{Busybox} is missing: apt-get install busybox-static");
        var bytes = File.ReadAllBytes(Busybox);
        return Core.Lab.ImageLayout.isStaticExecutable(bytes)
            ? bytes
            : throw new LabException($"{Busybox} is not a static x86-64 executable (the initramfs has no libraries): apt-get install busybox-static");
    }

    static string Tool(string program, IReadOnlyList<string> arguments, string installHint, TimeSpan? timeout = null, string? workingDirectory = null) =>
        HostCommand.Run(program, arguments, timeout ?? ToolTimeout, m => new LabException(m), installHint, workingDirectory: workingDirectory);

    static void WriteAtomically(string path, byte[] bytes)
    {
        File.WriteAllBytes(path + ".tmp", bytes);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    static string Hash(string text) => Hash(Encoding.UTF8.GetBytes(text));

    static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// One preparer at a time per directory (tests and `up --lab` start machines from several processes).
    static FileStream Lock(string directory)
    {
        var path = Path.Combine(directory, ".lock");
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
            catch (IOException e)
            {
                throw new LabException($"{path}: another process has prepared the lab image for over {LockTimeout.TotalMinutes} min: {e.Message}");
            }
        }
    }
}
