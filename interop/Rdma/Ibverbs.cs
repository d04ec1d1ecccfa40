using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

/// <summary>
/// The exported libibverbs entry points (rdma-core's infiniband/verbs.h) the RDMA transport uses. The data-path
/// calls are inline functions in verbs.h, not exports: <see cref="VerbsDataPath"/> calls them the way the header
/// does. Pointers to verbs objects stay nint here; <see cref="RdmaHandles"/> wraps each in a SafeHandle.
/// </summary>
public static unsafe partial class Ibverbs
{
    const string Library = "libibverbs.so.1";

    [LibraryImport(Library, EntryPoint = "ibv_get_device_list", SetLastError = true)]
    public static partial nint GetDeviceList(out int count);

    [LibraryImport(Library, EntryPoint = "ibv_free_device_list")]
    public static partial void FreeDeviceList(nint list);

    [LibraryImport(Library, EntryPoint = "ibv_get_device_name")]
    public static partial nint GetDeviceName(nint device);

    [LibraryImport(Library, EntryPoint = "ibv_open_device", SetLastError = true)]
    public static partial nint OpenDevice(nint device);

    [LibraryImport(Library, EntryPoint = "ibv_close_device")]
    public static partial int CloseDevice(nint context);

    /// The exported ibv_query_port fills the older, shorter _compat_ibv_port_attr prefix of ibv_port_attr (verbs.h
    /// calls it so when the provider has no extended query_port); every field we read lies in that prefix, and the
    /// caller zeroes the whole struct first as verbs.h's inline wrapper does.
    [LibraryImport(Library, EntryPoint = "ibv_query_port")]
    public static partial int QueryPort(nint context, byte port, IbvPortAttr* attributes);

    [LibraryImport(Library, EntryPoint = "ibv_query_gid")]
    public static partial int QueryGid(nint context, byte port, int index, IbvGid* gid);

    [LibraryImport(Library, EntryPoint = "ibv_alloc_pd", SetLastError = true)]
    public static partial nint AllocPd(nint context);

    [LibraryImport(Library, EntryPoint = "ibv_dealloc_pd")]
    public static partial int DeallocPd(nint pd);

    [LibraryImport(Library, EntryPoint = "ibv_reg_mr", SetLastError = true)]
    public static partial nint RegMr(nint pd, nint address, nuint length, int access);

    [LibraryImport(Library, EntryPoint = "ibv_dereg_mr")]
    public static partial int DeregMr(nint mr);

    [LibraryImport(Library, EntryPoint = "ibv_create_cq", SetLastError = true)]
    public static partial nint CreateCq(nint context, int entries, nint cqContext, nint channel, int compVector);

    [LibraryImport(Library, EntryPoint = "ibv_destroy_cq")]
    public static partial int DestroyCq(nint cq);

    [LibraryImport(Library, EntryPoint = "ibv_create_qp", SetLastError = true)]
    public static partial nint CreateQp(nint pd, IbvQpInitAttr* attributes);

    /// Returns 0 or an errno value (not -1 and errno).
    [LibraryImport(Library, EntryPoint = "ibv_modify_qp")]
    public static partial int ModifyQp(nint qp, IbvQpAttr* attributes, int mask);

    [LibraryImport(Library, EntryPoint = "ibv_destroy_qp")]
    public static partial int DestroyQp(nint qp);
}
