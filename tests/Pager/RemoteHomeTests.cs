using System.Diagnostics;
using System.Text;
using SsiHv.Shell.Assets;
using SsiHv.Shell.Pager;
using SsiHv.Shell.Vmm;
using SsiHv.Shell.Vmm.Devices;
using SsiHv.Tests.Support;
using SsiHv.Tests.Vmm;
using Xunit;
using Xunit.Abstractions;

namespace SsiHv.Tests.Pager;

/// <summary>
/// The pager with homes that answer later, fail, or leave, through the real userfaultfd path: the probe guest's
/// memtest on RAM four times the residency budget (tests/topologies/overcommit.json: node 0 with the vCPUs,
/// memory-only node 1), in a VM of this process whose page store is a test double around the host's
/// <see cref="LocalPageStore"/> (which keeps homes apart).
/// </summary>
[Collection(VmmTestCollection.Name)]
public sealed class RemoteHomeTests(ITestOutputHelper output)
{
    static readonly TimeSpan RunLimit = TestScale.Seconds(240);

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void Memtest_passes_when_every_transfer_completes_later_on_another_thread()
    {
        AsynchronousPageStore? store = null;
        var (stop, console, vm) = RunProbe(memory => store = new AsynchronousPageStore(new LocalPageStore(memory)), "memtest.cpus=all");
        Assert.IsType<VmStop.PowerOff>(stop);
        AssertMemtestPassed(console);
        Assert.Equal(0, vm.Metrics.Errors);
        Assert.True(vm.Metrics.Fetches > 10_000 && store!.AsynchronousCompletions >= vm.Metrics.Fetches + vm.Metrics.WriteBacks,
            $"{store!.AsynchronousCompletions} asynchronous completions, {vm.Metrics.Fetches} fetches, {vm.Metrics.WriteBacks} write-backs");
        // A completion that finds no step running is stepped on the completing thread; the others are posted.
        Assert.True(vm.Metrics.CompletionsInline > 0,
            $"{vm.Metrics.CompletionsInline} completions stepped inline, {vm.Metrics.CompletionsPosted} posted to the pager thread");
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_home_that_fails_a_transfer_stops_the_vm_with_the_home_page_and_error_within_seconds()
    {
        FailingPageStore? store = null;
        var started = Stopwatch.GetTimestamp();
        var (stop, _, _) = RunProbe(memory => store = new FailingPageStore(new LocalPageStore(memory), failAtRead: 3000), "memtest.cpus=all");
        var stopped = Stopwatch.GetTimestamp();
        var reason = Assert.IsType<VmStop.Stopped>(stop).Reason;
        Assert.True(store!.Failed, "the store never failed: the guest did not fetch 3000 pages");
        Assert.Contains(store.Failures, failure => reason.Contains(failure));
        Assert.Contains(FailingPageStore.Complaint, reason);
        var afterFailure = Stopwatch.GetElapsedTime(store.FailedAt, stopped);
        output.WriteLine($"stopped {afterFailure.TotalMilliseconds:F0} ms after the failure ({Stopwatch.GetElapsedTime(started, stopped).TotalSeconds:F1} s in all): {reason}");
        Assert.True(afterFailure < TestScale.Seconds(15), $"the VM took {afterFailure.TotalSeconds:F1} s to stop after the failure");
    }

    [Trait(Needs.Trait, Needs.Kvm)]
    [Fact]
    public void A_home_moved_mid_run_keeps_every_byte_and_is_not_touched_after_HomeMoved()
    {
        const int leaving = 1, taking = 0;
        WatchedPageStore? store = null;
        Task? moved = null;
        var movedWhileRunning = false;
        var (stop, console, vm) = RunProbe(memory => store = new WatchedPageStore(new AsynchronousPageStore(new LocalPageStore(memory))),
            "memtest.cpus=all",
            (machine, running) =>
            {
                // Mid-run: once node 1 holds a good number of written-back pages.
                var deadline = Stopwatch.StartNew();
                while (store!.WritesOf(leaving) < 5_000 && !running.IsCompleted && deadline.Elapsed < RunLimit)
                    Thread.Sleep(10);
                moved = machine.Pager!.MoveHomeAsync(leaving, taking);
                Assert.True(moved.Wait(TestScale.Seconds(120)), "MoveHomeAsync did not complete within 120 s");
                store.Close(leaving);
                movedWhileRunning = !running.IsCompleted;
            });
        Assert.IsType<VmStop.PowerOff>(stop);
        AssertMemtestPassed(console);
        Assert.True(moved!.IsCompletedSuccessfully);
        Assert.True(movedWhileRunning, "the guest had finished before the home moved: not a mid-run move");
        Assert.True(vm.Metrics.PagesMoved > 1_000, $"only {vm.Metrics.PagesMoved} pages moved");
        Assert.Empty(store!.Violations);
        Assert.Equal(0, vm.Metrics.Errors);
        output.WriteLine($"{vm.Metrics.PagesMoved} pages moved; node {leaving}: {store.ReadsOf(leaving)} reads, {store.WritesOf(leaving)} writes; node {taking}: {store.ReadsOf(taking)} reads, {store.WritesOf(taking)} writes");
    }

    sealed record PagerView(PagerMetrics Metrics);

    (VmStop Stop, string Console, PagerView Pager) RunProbe(Func<Shell.Vmm.Memory.GuestMemory, IPageStore> storeFor, string append,
        Action<VirtualMachine, Task>? during = null)
    {
        Assert.True(Shell.Topology.TopologyFile.TryLoad(OvercommitGuest.TopologyPath, out var topology, out var problems), string.Join('\n', problems));
        var kernelPath = ProductAssets.ProbeGuest;
        var config = new VmConfig(topology, kernelPath, File.ReadAllBytes(kernelPath), null, append, OvercommitGuest.BudgetBytes, storeFor);
        using var vm = VirtualMachine.Create(config);
        using var console = new MemoryStream();
        var running = vm.RunAsync(console, RunLimit);
        during?.Invoke(vm, running);
        var stop = running.GetAwaiter().GetResult();
        var text = Encoding.ASCII.GetString(console.ToArray());
        output.WriteLine($"stop: {stop}; pager: {vm.Pager!.Metrics.Summary()}");
        output.WriteLine(text.Length > 4000 ? text[^4000..] : text);
        return (stop, text, new PagerView(vm.Pager.Metrics));
    }

    static void AssertMemtestPassed(string console)
    {
        var tested = OvercommitGuest.AssertMemtestsFoundNoMismatch(console);
        Assert.True(tested * 4096 > 3 * (long)OvercommitGuest.BudgetBytes, $"only {tested} pages tested");
    }
}
