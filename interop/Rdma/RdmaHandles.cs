using System.Runtime.InteropServices;

namespace SsiHv.Interop.Rdma;

/// <summary>
/// A verbs object that must be destroyed exactly once, after everything created from it: each handle keeps a
/// reference on its parent (DangerousAddRef), so a queue pair is destroyed before its CQ and PD, and those before
/// the device context, whatever order the owner disposes them in.
/// </summary>
public abstract class VerbsHandle : SafeHandle
{
    readonly VerbsHandle? parent;

    protected VerbsHandle(nint handle, VerbsHandle? parent) : base(0, ownsHandle: true)
    {
        SetHandle(handle);
        if (parent is not null)
        {
            var added = false;
            parent.DangerousAddRef(ref added);
            this.parent = parent;
        }
    }

    public override bool IsInvalid => handle == 0;

    protected sealed override bool ReleaseHandle()
    {
        var released = Destroy(handle) == 0;
        parent?.DangerousRelease();
        return released;
    }

    /// The verbs destroy call: 0 on success.
    protected abstract int Destroy(nint handle);

    /// A null pointer from a create call: errno names why.
    protected static nint Created(nint pointer, string what)
    {
        if (pointer == 0)
            throw new RdmaException($"{what} failed: errno {Marshal.GetLastPInvokeError()}");
        return pointer;
    }
}

public sealed class RdmaException(string message) : Exception(message);

/// ibv_open_device / ibv_close_device.
public sealed class DeviceContextHandle : VerbsHandle
{
    DeviceContextHandle(nint context) : base(context, null) { }

    /// Opens the device named `name` (as ibv_get_device_name gives it).
    public static DeviceContextHandle Open(string name)
    {
        var list = Ibverbs.GetDeviceList(out var count);
        if (list == 0)
            throw new RdmaException($"ibv_get_device_list failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            for (var i = 0; i < count; i++)
            {
                var device = Marshal.ReadIntPtr(list, i * IntPtr.Size);
                if (Marshal.PtrToStringUTF8(Ibverbs.GetDeviceName(device)) == name)
                    // The context outlives the list (ibv_free_device_list(3)): open before freeing.
                    return new DeviceContextHandle(Created(Ibverbs.OpenDevice(device), $"ibv_open_device({name})"));
            }
        }
        finally
        {
            Ibverbs.FreeDeviceList(list);
        }
        throw new RdmaException($"RDMA device {name} is not in ibv_get_device_list's {count} device(s)");
    }

    protected override int Destroy(nint handle) => Ibverbs.CloseDevice(handle);
}

/// ibv_alloc_pd / ibv_dealloc_pd.
public sealed class ProtectionDomainHandle(DeviceContextHandle context)
    : VerbsHandle(Created(Ibverbs.AllocPd(context.DangerousGetHandle()), "ibv_alloc_pd"), context)
{
    protected override int Destroy(nint handle) => Ibverbs.DeallocPd(handle);
}

/// ibv_reg_mr / ibv_dereg_mr: `length` bytes at `address` registered (and pinned) for the given access.
public sealed class MemoryRegionHandle(ProtectionDomainHandle pd, nint address, ulong length, IbvAccess access)
    : VerbsHandle(Created(Ibverbs.RegMr(pd.DangerousGetHandle(), address, (nuint)length, (int)access), $"ibv_reg_mr of {length} bytes"), pd)
{
    public nint Address { get; } = address;
    public ulong Length { get; } = length;
    public uint LocalKey => VerbsDataPath.LocalKey(handle);
    public uint RemoteKey => VerbsDataPath.RemoteKey(handle);

    protected override int Destroy(nint handle) => Ibverbs.DeregMr(handle);
}

/// ibv_create_cq / ibv_destroy_cq (no completion channel: the owner polls).
public sealed class CompletionQueueHandle(DeviceContextHandle context, int entries)
    : VerbsHandle(Created(Ibverbs.CreateCq(context.DangerousGetHandle(), entries, 0, 0, 0), $"ibv_create_cq of {entries} entries"), context)
{
    protected override int Destroy(nint handle) => Ibverbs.DestroyCq(handle);
}

/// ibv_create_qp / ibv_destroy_qp. Keeps its CQ alive too (the PD is its parent).
public sealed unsafe class QueuePairHandle : VerbsHandle
{
    readonly CompletionQueueHandle cq;

    public QueuePairHandle(ProtectionDomainHandle pd, CompletionQueueHandle cq, IbvQpInitAttr attributes)
        : base(Created(Ibverbs.CreateQp(pd.DangerousGetHandle(), &attributes), "ibv_create_qp"), pd)
    {
        var added = false;
        cq.DangerousAddRef(ref added);
        this.cq = cq;
    }

    public uint Number => VerbsDataPath.QpNumber(handle);

    /// ibv_modify_qp; throws naming the target state and the errno.
    public void Modify(IbvQpAttr attributes, IbvQpAttrMask mask)
    {
        var error = Ibverbs.ModifyQp(handle, &attributes, (int)mask);
        if (error != 0)
            throw new RdmaException($"ibv_modify_qp to {attributes.QpState} failed: errno {error}");
    }

    protected override int Destroy(nint handle)
    {
        var result = Ibverbs.DestroyQp(handle);
        cq.DangerousRelease();
        return result;
    }
}
