namespace SsiHv.Tests.Support;

/// <summary>
/// What a test needs from the host beyond the kernel's syscalls, as an xunit trait. `Needs=kvm` marks every test
/// that opens /dev/kvm: test.sh runs that set natively where KVM works and inside a lab machine elsewhere
/// (docs/lab.md), so no KVM test is ever skipped for want of /dev/kvm. `Needs=rdma` marks the tests that need an
/// RDMA device: where the host has none, they run in a lab machine with soft RoCE (rdma_rxe) on its own NIC.
/// </summary>
public static class Needs
{
    public const string Trait = "Needs";
    public const string Kvm = "kvm";
    public const string Rdma = "rdma";
}
