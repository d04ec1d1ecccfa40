using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

/// <summary>
/// What <c>ibv_get_device_list</c> found: the device names and, when there are none, why (<see cref="Summary"/>);
/// <see cref="Problem"/> only when the library could not be asked or failed for another reason.
/// </summary>
public sealed record RdmaDeviceList(IReadOnlyList<string> Names, string Summary, string? Problem)
{
    public bool Any => Names.Count > 0;
}

/// <summary>RDMA device enumeration through libibverbs.</summary>
public static class RdmaDevices
{
    /// errno from ibv_get_device_list when the kernel has no RDMA support: the same as no device.
    const int NoKernelSupport = 38; // ENOSYS

    public static RdmaDeviceList List()
    {
        nint list;
        int count;
        try
        {
            list = Ibverbs.GetDeviceList(out count);
        }
        catch (DllNotFoundException e)
        {
            var problem = $"libibverbs.so.1 cannot be loaded (Debian package libibverbs1): {e.Message}";
            return new RdmaDeviceList([], problem, problem);
        }
        if (list == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == NoKernelSupport
                ? new RdmaDeviceList([], "ibv_get_device_list returned 0 devices (ENOSYS: no RDMA support in this kernel)", null)
                : new RdmaDeviceList([], $"ibv_get_device_list failed: errno {errno}", $"ibv_get_device_list failed: errno {errno}");
        }
        try
        {
            var names = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                var device = Marshal.ReadIntPtr(list, i * IntPtr.Size);
                names.Add(Marshal.PtrToStringUTF8(Ibverbs.GetDeviceName(device)) ?? $"device {i}");
            }
            return new RdmaDeviceList(names, $"ibv_get_device_list returned {count} device(s)", null);
        }
        finally
        {
            Ibverbs.FreeDeviceList(list);
        }
    }
}
