namespace SsiHv.Interop.Kvm;

/// <summary>
/// ioctl request numbers of the KVM API for x86-64 (linux/kvm.h), spelled out as _IO/_IOR/_IOW/_IOWR would
/// compute them: direction in bits 30-31, argument size in bits 16-29, type 0xAE, number in bits 0-7. Where the
/// argument is one of our structs, its size is that struct's, as the C macros take sizeof of the kernel's.
/// tests/Interop checks each against the kernel headers.
/// </summary>
public static unsafe class KvmIoctl
{
    const uint None = 0, Write = 1, Read = 2;
    const uint KvmType = 0xAE;

    static uint Encode(uint direction, uint number, uint size) => (direction << 30) | (size << 16) | (KvmType << 8) | number;
    static uint Io(uint number) => Encode(None, number, 0);
    static uint Ior(uint number, uint size) => Encode(Read, number, size);
    static uint Iow(uint number, uint size) => Encode(Write, number, size);
    static uint Iowr(uint number, uint size) => Encode(Read | Write, number, size);
    static uint Ior<T>(uint number) where T : unmanaged => Ior(number, (uint)sizeof(T));
    static uint Iow<T>(uint number) where T : unmanaged => Iow(number, (uint)sizeof(T));
    static uint Iowr<T>(uint number) where T : unmanaged => Iowr(number, (uint)sizeof(T));

    // System ioctls (on /dev/kvm).
    public static readonly uint GetApiVersion = Io(0x00);
    public static readonly uint CreateVm = Io(0x01);
    public static readonly uint CheckExtension = Io(0x03);
    public static readonly uint GetVcpuMmapSize = Io(0x04);
    public static readonly uint GetSupportedCpuid = Iowr(0x05, KvmAbi.Cpuid2HeaderSize);

    // VM ioctls.
    public static readonly uint CreateVcpu = Io(0x41);
    public static readonly uint SetUserMemoryRegion = Iow<KvmUserspaceMemoryRegion>(0x46);
    public static readonly uint SetTssAddr = Io(0x47);
    public static readonly uint SetIdentityMapAddr = Iow(0x48, 8);
    public static readonly uint CreateIrqchip = Io(0x60);
    public static readonly uint IrqLine = Iow(0x61, 8);
    public static readonly uint GetIrqchip = Iowr<KvmIrqchip>(0x62);
    public static readonly uint SetIrqchip = Ior<KvmIrqchip>(0x63);
    public static readonly uint CreatePit2 = Iow<KvmPitConfig>(0x77);

    // vCPU ioctls.
    public static readonly uint Run = Io(0x80);
    public static readonly uint GetRegs = Ior<KvmRegs>(0x81);
    public static readonly uint SetRegs = Iow<KvmRegs>(0x82);
    public static readonly uint GetSregs = Ior<KvmSregs>(0x83);
    public static readonly uint SetSregs = Iow<KvmSregs>(0x84);
    public static readonly uint GetMsrs = Iowr(0x88, KvmAbi.MsrsHeaderSize);
    public static readonly uint SetMsrs = Iow(0x89, KvmAbi.MsrsHeaderSize);
    public static readonly uint GetFpu = Ior<KvmFpu>(0x8C);
    public static readonly uint SetFpu = Iow<KvmFpu>(0x8D);
    public static readonly uint GetLapic = Ior(0x8E, KvmAbi.LapicStateSize);
    public static readonly uint SetLapic = Iow(0x8F, KvmAbi.LapicStateSize);
    public static readonly uint SetCpuid2 = Iow(0x90, KvmAbi.Cpuid2HeaderSize);
    public static readonly uint GetMpState = Ior(0x98, 4);
    public static readonly uint SetMpState = Iow(0x99, 4);
}

/// <summary>Exit reasons in kvm_run.exit_reason (linux/kvm.h KVM_EXIT_*).</summary>
public enum KvmExitReason : uint
{
    Unknown = 0,
    Exception = 1,
    Io = 2,
    Hypercall = 3,
    Debug = 4,
    Hlt = 5,
    Mmio = 6,
    IrqWindowOpen = 7,
    Shutdown = 8,
    FailEntry = 9,
    Intr = 10,
    SetTpr = 11,
    TprAccess = 12,
    Nmi = 16,
    InternalError = 17,
    SystemEvent = 24,
}

/// <summary>kvm_mp_state values (KVM_MP_STATE_*).</summary>
public enum KvmMpState : uint
{
    Runnable = 0,
    Uninitialized = 1,
    InitReceived = 2,
    Halted = 3,
    SipiReceived = 4,
}
