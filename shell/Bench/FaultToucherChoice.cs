namespace SsiHv.Shell.Bench;

/// <summary>
/// Which toucher <c>--toucher</c> (or its absence) picks on a host whose KVM state is given, not read: the vCPU
/// where KVM works, else a host thread; an explicit vcpu without KVM is refused, and any other value is unknown.
/// Taking the state as arguments lets a host without KVM check the decision for a host with it, and vice versa.
/// </summary>
public abstract record FaultToucherChoice
{
    public const string KvmDevice = "/dev/kvm";

    /// The toucher, with the report's line naming it and why it was picked.
    public sealed record Chosen(FaultToucher Toucher, string Line) : FaultToucherChoice;
    /// A value that is neither thread nor vcpu (bad input).
    public sealed record Unknown(string Value) : FaultToucherChoice;
    /// --toucher vcpu where KVM is unusable, and why (from opening /dev/kvm).
    public sealed record NoKvm(string Reason) : FaultToucherChoice;

    const string OnVcpu = "toucher: vCPU (the fault guest under KVM)";

    /// `option`: --toucher's value, null when absent; `kvmUnavailable`: why KVM is unusable, null when it works.
    public static FaultToucherChoice Decide(string? option, string? kvmUnavailable, bool kvmDeviceExists) =>
        option switch
        {
            null => kvmUnavailable is null ? new Chosen(FaultToucher.Vcpu, OnVcpu)
                : kvmDeviceExists ? new Chosen(FaultToucher.Thread, $"toucher: host thread (KVM unusable here: {kvmUnavailable})")
                : new Chosen(FaultToucher.Thread, $"toucher: host thread (no {KvmDevice} here)"),
            "thread" => new Chosen(FaultToucher.Thread, "toucher: host thread (--toucher thread)"),
            "vcpu" => kvmUnavailable is null ? new Chosen(FaultToucher.Vcpu, OnVcpu) : new NoKvm(kvmUnavailable),
            _ => new Unknown(option),
        };
}
