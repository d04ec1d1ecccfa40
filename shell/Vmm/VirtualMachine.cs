using System.Threading.Channels;
using Microsoft.FSharp.Core;
using SsiHv.Core.Acpi;
using SsiHv.Core.Boot;
using SsiHv.Core.Memory;
using SsiHv.Interop.Linux;
using SsiHv.Shell.Bench;
using SsiHv.Core.Paging;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Vmm.Boot;
using SsiHv.Shell.Vmm.Devices;
using SsiHv.Shell.Vmm.Hypervisor;
using SsiHv.Shell.Vmm.Hypervisor.Kvm;
using SsiHv.Shell.Vmm.Memory;
using SsiHv.Shell.Vmm.Vcpu;
using CoreTopology = SsiHv.Core.Topology.Topology;

namespace SsiHv.Shell.Vmm;

/// <summary>
/// What to boot: the topology, a kernel (bzImage or PVH ELF), optional initrd and command line, and optionally a
/// residency budget: then guest RAM is demand-paged by the userfaultfd pager and at most that many bytes of it
/// are resident at once. <paramref name="PageStoreFactory"/> says where paged-out pages live (null: a
/// <see cref="LocalPageStore"/> on this host, owned by the VM; otherwise the store belongs to the caller, e.g.
/// one over the node transport). <paramref name="ReadAheadPages"/> is the pager's read-ahead block (docs/pager.md).
/// </summary>
public sealed record VmConfig(CoreTopology Topology, string KernelPath, byte[] Kernel, byte[]? Initrd, string CommandLine,
    ulong? MemoryBudgetBytes = null, Func<GuestMemory, IPageStore>? PageStoreFactory = null,
    int ReadAheadPages = Core.Paging.Pager.PagerConfigModule.DefaultReadAheadPages);

/// <summary>
/// One virtual machine for a topology (the boot pipeline of docs/design.md §3.1), on this host's KVM through the
/// hypervisor seam (<see cref="IHypervisor"/>): tables and boot plan from the core → guest memory, devices and
/// vCPUs → vCPU threads until the guest powers off or resets, something
/// fails, is stopped (<see cref="Stop"/>: the control plane, a lost node, a failed pager), or the time limit
/// passes. Console bytes flow through a channel to one writer.
/// </summary>
public sealed class VirtualMachine : IDisposable
{
    static readonly TimeSpan VcpuStopTimeout = TimeSpan.FromSeconds(5);
    const uint SerialIrq = 4;

    readonly IHypervisor hypervisor;
    readonly IHypervisorVm vm;
    readonly GuestMemory memory;
    readonly List<IVcpu> vcpus = [];
    readonly List<VcpuLoop> loops = [];
    readonly Lock haltGate = new();
    bool vcpusReleased;
    readonly Channel<VmStop> stops = Channel.CreateBounded<VmStop>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropWrite });
    readonly Channel<byte> console = Channel.CreateUnbounded<byte>(new UnboundedChannelOptions { SingleReader = true });
    readonly AddressBus ports = new("port I/O");
    /// Nothing is attached to MMIO: every guest access that KVM's own devices and the memory slots leave over
    /// follows the bus's rule for unclaimed addresses.
    readonly AddressBus mmio = new("MMIO");

    public SerialPort Serial { get; }

    /// The demand pager, when the VM runs with a memory budget.
    public UserfaultPager? Pager { get; }
    /// The page store the VM created (and disposes); null when the config's factory supplied one.
    readonly LocalPageStore? ownPageStore;

    VirtualMachine(VmConfig config)
    {
        BootTimeline.Mark(BootTimeline.VmCreate);
        var tables = TableSet.build(config.Topology);
        if (tables.IsError)
            throw new BootInputException(tables.ErrorValue);
        var ranges = Layout.ranges(config.Topology);
        var plan = KernelLoader.Plan(config.KernelPath, config.Kernel, new BootPlan.BootInputs(
            ranges, config.CommandLine,
            config.Initrd is null ? FSharpOption<ReadOnlyMemory<byte>>.None : FSharpOption<ReadOnlyMemory<byte>>.Some(config.Initrd),
            TableSet.rsdpAddress));

        hypervisor = HostKvm.Open();
        vm = hypervisor.CreateVm();
        vm.CreateInKernelPlatform();
        memory = GuestMemory.Create(ranges);
        memory.RegisterWith(vm);
        foreach (var table in tables.ResultValue)
            memory.Write(table.Address, table.Bytes);
        foreach (var chunk in plan.Chunks)
            memory.Write(chunk.Address, chunk.Bytes.Span);

        if (config.MemoryBudgetBytes is { } budget)
        {
            IPageStore store = config.PageStoreFactory is { } factory ? factory(memory) : ownPageStore = new LocalPageStore(memory);
            Pager = new UserfaultPager(memory, PagerConfigFor(config.Topology, budget, config.ReadAheadPages), store, line => Console.Error.WriteLine(line));
            // Without a page's bytes the guest cannot go on: stop rather than let it run on made-up memory.
            Pager.Failed += reason => Stop($"pager: {reason}");
        }

        Serial = new SerialPort(console.Writer, level => vm.SetIrqLine(SerialIrq, level));
        PlatformPorts.Attach(ports, Serial, RequestStop);

        var supportedCpuid = hypervisor.SupportedCpuid();
        var cpus = Core.Topology.TopologyModule.totalCpus(config.Topology);
        for (var id = 0; id < cpus; id++)
        {
            var vcpu = vm.CreateVcpu(id);
            vcpus.Add(vcpu);
            VcpuSetup.SetCpuid(vcpu, supportedCpuid, (uint)id);
            VcpuSetup.SetBootMsrs(vcpu);
            VcpuSetup.SetBootFpu(vcpu);
            if (id == 0)
                VcpuSetup.SetEntryState(vcpu, plan.Entry);
            loops.Add(new VcpuLoop(vcpu, ports, mmio, memory, RequestStop));
        }
        VcpuSetup.SynchronizeTimeStampCounters(vcpus);
        // Writing each LAPIC state back makes KVM rebuild its APIC ID routing map with every vCPU in it, as
        // QEMU's reset does. Without it, on this host's KVM an INIT IPI to the only AP of a 2-vCPU VM was
        // never delivered (measured: the AP stayed in wait-for-INIT until the run ended).
        foreach (var vcpu in vcpus)
            vcpu.SetLapic(vcpu.GetLapic());
    }

    /// The pager runs on the node host of the boot vCPU (the first node with CPUs); pages are homed by the
    /// topology's placement policy (first-touch unless the file says otherwise).
    static Core.Paging.Pager.PagerConfig PagerConfigFor(CoreTopology topology, ulong budgetBytes, int readAheadPages)
    {
        var pages = budgetBytes / Page.size;
        var localNode = Core.Topology.TopologyModule.initiatorNodes(topology).Head.Id;
        var placement = Placement.ofTopology(Placement.policyOf(topology.Placement), topology);
        var created = Core.Paging.Pager.PagerConfigModule.create(localNode, (int)Math.Min(pages, int.MaxValue), placement);
        return created.IsOk
            ? Core.Paging.Pager.PagerConfigModule.withReadAhead(readAheadPages, created.ResultValue)
            : throw new BootInputException($"--memory-budget {budgetBytes} bytes is less than one {Page.size}-byte page");
    }

    public static VirtualMachine Create(VmConfig config)
    {
        try
        {
            return new VirtualMachine(config);
        }
        catch (LinuxError e)
        {
            throw new VmFailureException($"cannot create the VM: {e.Message}");
        }
    }

    /// Runs until the guest stops or `timeout` passes, writing console output to `consoleOutput`.
    public async Task<VmStop> RunAsync(Stream consoleOutput, TimeSpan timeout)
    {
        var writer = Task.Run(() => PumpConsole(consoleOutput));
        Pager?.Start();
        // APs first: each must be blocked in KVM_RUN, waiting for SIPI, before the BSP can send it one.
        foreach (var loop in loops.AsEnumerable().Reverse())
            loop.Start();
        // The BSP's loop started last, and Start returns when its thread is about to enter KVM_RUN.
        BootTimeline.Mark(BootTimeline.FirstGuestEntry);
        VmStop stop;
        using (var limit = new CancellationTokenSource(timeout))
        {
            try
            {
                stop = await stops.Reader.ReadAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                stop = new VmStop.TimedOut(timeout, "");
            }
        }
        var stuck = loops.Where(loop => !loop.Stop(VcpuStopTimeout)).Select(loop => loop.Id).ToList();
        if (stop is VmStop.TimedOut timedOut)
            stop = timedOut with { VcpuStates = string.Join('\n', vcpus.Where(v => !stuck.Contains(v.Id))
                .Select(v => FailureReport.Describe(v, memory, "registers when stopped"))) };
        Pager?.Stop();
        console.Writer.TryComplete();
        await writer;
        BootTimeline.ReportGuestStopped(memory.Regions);
        if (stuck.Count > 0 && stop is not (VmStop.Failure or VmStop.Stopped))
            stop = new VmStop.Failure($"vCPUs {string.Join(", ", stuck)} did not leave KVM_RUN within {VcpuStopTimeout.TotalSeconds} s");
        return stop;
    }

    /// The first stop ends the run (RunAsync then waits for every vCPU); no vCPU enters the guest again meanwhile.
    /// A stop may come after Dispose (a late pager failure, the control plane): the vCPUs' kvm_run pages are
    /// unmapped by then, so halting is skipped under the same lock Dispose takes.
    void RequestStop(VmStop stop)
    {
        lock (haltGate)
            if (!vcpusReleased)
                foreach (var loop in loops)
                    loop.Halt();
        stops.Writer.TryWrite(stop);
    }

    /// <summary>Stops the running VM from outside the guest (the control plane, a lost node, a failed pager);
    /// <see cref="RunAsync"/> returns <see cref="VmStop.Stopped"/> with this reason (the first stop wins).</summary>
    public void Stop(string reason) => RequestStop(new VmStop.Stopped(reason));

    async Task PumpConsole(Stream output)
    {
        var buffer = new byte[4096];
        var reader = console.Reader;
        while (await reader.WaitToReadAsync())
        {
            var count = 0;
            var drained = false;
            while (count < buffer.Length && !(drained = !reader.TryRead(out var b)))
                buffer[count++] = b;
            await output.WriteAsync(buffer.AsMemory(0, count));
            if (drained)
                await output.FlushAsync(); // a line a person is waiting for should not sit in a buffer
        }
        await output.FlushAsync();
    }

    public void Dispose()
    {
        lock (haltGate)
            vcpusReleased = true;
        foreach (var vcpu in vcpus)
            vcpu.Dispose();
        vm?.Dispose();
        Pager?.Dispose();
        ownPageStore?.Dispose();
        memory?.Dispose();
        hypervisor?.Dispose();
    }
}

/// <summary>The VM could not be created or run (exit 1).</summary>
public sealed class VmFailureException(string message) : Exception(message);
