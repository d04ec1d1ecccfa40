using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

/// <summary>
/// The libibverbs entry points (rdma-core's infiniband/verbs.h) bound so far: device enumeration.
/// </summary>
public static partial class Ibverbs
{
    const string Library = "libibverbs.so.1";

    [LibraryImport(Library, EntryPoint = "ibv_get_device_list", SetLastError = true)]
    public static partial nint GetDeviceList(out int count);

    [LibraryImport(Library, EntryPoint = "ibv_free_device_list")]
    public static partial void FreeDeviceList(nint list);

    [LibraryImport(Library, EntryPoint = "ibv_get_device_name")]
    public static partial nint GetDeviceName(nint device);
}
