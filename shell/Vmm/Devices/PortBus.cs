namespace SsiHv.Shell.Vmm.Devices;

/// <summary>
/// Routes a vCPU's port I/O exit to the device attached at that port range. Unclaimed ports read as all ones
/// and ignore writes, as on a PC bus with nothing there; each is counted so a guest probing odd ports is visible.
/// </summary>
public sealed class PortBus
{
    readonly record struct Attachment(ushort First, ushort Count, IPortDevice Device);

    readonly List<Attachment> attachments = [];
    readonly object gate = new();
    long unclaimedAccesses;

    public long UnclaimedAccesses => Interlocked.Read(ref unclaimedAccesses);

    public void Attach(ushort first, ushort count, IPortDevice device)
    {
        if (attachments.Any(a => first < a.First + a.Count && a.First < first + count))
            throw new InvalidOperationException($"ports 0x{first:X}+{count} overlap a device already attached");
        attachments.Add(new Attachment(first, count, device));
    }

    /// Devices are small state machines; one lock keeps their state consistent when several vCPUs touch them.
    public void Read(ushort port, Span<byte> data)
    {
        if (Find(port) is { } a)
        {
            lock (gate)
                a.Device.Read((ushort)(port - a.First), data);
        }
        else
        {
            Interlocked.Increment(ref unclaimedAccesses);
            data.Fill(0xFF);
        }
    }

    public void Write(ushort port, ReadOnlySpan<byte> data)
    {
        if (Find(port) is { } a)
        {
            lock (gate)
                a.Device.Write((ushort)(port - a.First), data);
        }
        else
            Interlocked.Increment(ref unclaimedAccesses);
    }

    Attachment? Find(ushort port)
    {
        foreach (var a in attachments)
            if (port >= a.First && port < a.First + a.Count)
                return a;
        return null;
    }
}
