namespace SsiHv.Shell.Assets;

/// <summary>
/// The files ssihv runs or reads besides its assemblies. Its build places them under <c>assets/</c> next to
/// ssihv.dll (target BuildProductAssets in shell/SsiHv.Shell.csproj): the probe guest made from guests/probe/,
/// the fault guest, the C references of <c>ssihv bench</c> and its command runner made from bench/reference/, and the topologies the
/// benchmarks default to, from examples/. ssihv looks there and nowhere else, so an installed copy (the build's
/// or <c>dotnet publish</c>'s output directory) needs no source tree and compiles nothing at run time.
/// </summary>
public static class ProductAssets
{
    /// The probe guest's ELF (guests/probe/README.md), booted through PVH.
    public static string ProbeGuest => Existing("probe/probe.elf", "guests/probe/");

    /// The raw code of the guest that `bench fault` and `bench remote-fault` serve (bench/reference/fault_guest.S).
    public static string FaultGuest => Existing("bench/fault_guest.bin", "bench/reference/");

    /// The C pager of `bench fault` (bench/reference/uffd_reference.c).
    public static string FaultReference => Existing("bench/uffd_reference", "bench/reference/");

    /// The C pager with a forked page server of `bench remote-fault` (bench/reference/uffd_remote_reference.c).
    public static string RemoteFaultReference => Existing("bench/uffd_remote_reference", "bench/reference/");

    /// The C client/server of `bench transport` (bench/reference/tcp_reference.c).
    public static string TransportReference => Existing("bench/tcp_reference", "bench/reference/");

    /// What `bench startup` runs a command through to read its own peak RSS (bench/reference/child_rusage.c).
    public static string ChildRusage => Existing("bench/child_rusage", "bench/reference/");

    /// A topology file shipped from examples/, e.g. "two-node.json".
    public static string ExampleTopology(string fileName) => Existing($"topologies/{fileName}", "examples/");

    static string Existing(string relativePath, string sourceFolder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "assets", relativePath);
        return File.Exists(path)
            ? path
            : throw new MissingAssetException(
                $"{path} is missing: ssihv's build puts it there from {sourceFolder} of the source tree (`dotnet build shell -c Release`, "
                + "which needs gcc, make and binutils); an installation must copy the whole build or `dotnet publish` output, assets/ included");
    }
}

/// <summary>A file of <see cref="ProductAssets"/> is not where the build puts it: the installation is incomplete.</summary>
public sealed class MissingAssetException(string message) : Exception(message);
