using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

/// <summary>What <c>ibv_get_device_list</c> found: the device names, or why the library could not be asked.</summary>
public sealed record RdmaDeviceList(IReadOnlyList<string> Names, string? Problem)
{
    public bool Any => Names.Count > 0;
}

/// <summary>RDMA device enumeration through libibverbs.</summary>
public static class RdmaDevices
{
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
            return new RdmaDeviceList([], $"libibverbs.so.1 cannot be loaded (Debian package libibverbs1): {e.Message}");
        }
        if (list == 0)
            return new RdmaDeviceList([], $"ibv_get_device_list failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var names = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                var device = Marshal.ReadIntPtr(list, i * IntPtr.Size);
                names.Add(Marshal.PtrToStringUTF8(Ibverbs.GetDeviceName(device)) ?? $"device {i}");
            }
            return new RdmaDeviceList(names, null);
        }
        finally
        {
            Ibverbs.FreeDeviceList(list);
        }
    }
}
