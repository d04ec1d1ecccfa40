using SsiHv.Interop.Linux;

namespace SsiHv.Interop.Memory;

/// <summary>
/// A private anonymous mapping (guest RAM). MAP_NORESERVE: untouched guest pages cost nothing on the host,
/// which the pager of later issues relies on.
/// </summary>
public sealed unsafe class AnonymousMapping : IDisposable
{
    public nint Address { get; private set; }
    public ulong Length { get; }

    public AnonymousMapping(ulong length)
    {
        Length = length;
        var address = NativeLibc.mmap(null, (nuint)length, NativeLibc.PROT_READ | NativeLibc.PROT_WRITE,
            NativeLibc.MAP_PRIVATE | NativeLibc.MAP_ANONYMOUS | NativeLibc.MAP_NORESERVE, -1, 0);
        if (address == NativeLibc.MapFailed)
            throw LinuxError.Last($"mmap of {length} bytes of guest memory");
        Address = (nint)address;
    }

    public Span<byte> Span(ulong offset, int length)
    {
        if (offset > Length || (ulong)length > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{length}) is outside the {Length}-byte mapping");
        return new Span<byte>((byte*)Address + offset, length);
    }

    public void Dispose()
    {
        if (Address != 0)
        {
            NativeLibc.munmap((void*)Address, (nuint)Length);
            Address = 0;
        }
    }
}
