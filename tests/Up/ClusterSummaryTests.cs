using SsiHv.Shell.Up;
using Xunit;

namespace SsiHv.Tests.Up;

/// <summary>The first line of `ssihv up`'s summary says how the guest ended, as the boot node reported it.</summary>
public sealed class ClusterSummaryTests
{
    [Theory]
    [InlineData("the guest powered off", 0, "the guest powered off")]
    // A Linux that panics with panic=-1 resets: exit code 0 like a power-off, but the summary must not call it one.
    [InlineData("the guest reset", 0, "the guest reset")]
    [InlineData("node 1 was lost", 1, "the guest failed (exit code 1): node 1 was lost")]
    public void The_guest_s_end_is_told_as_the_boot_node_reported_it(string reason, int exitCode, string expected) =>
        Assert.Equal(expected, ClusterSummary.GuestEnd(new VmReply("stopped", reason, exitCode)));
}
