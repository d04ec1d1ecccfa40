using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SsiHv.Tests.Interop;

/// <summary>
/// The layout of our interop structs as the runtime lays them out, to set beside <see cref="KernelHeaderValues"/>:
/// an ABI test that compares these with the C headers fails when a field of ours moves, not only when a
/// number copied from the headers does.
/// </summary>
public static class OurLayout
{
    public static ulong Size<T>() where T : unmanaged => (ulong)Unsafe.SizeOf<T>();

    public static ulong Offset<T>(string field) where T : unmanaged => (ulong)Marshal.OffsetOf<T>(field);
}
