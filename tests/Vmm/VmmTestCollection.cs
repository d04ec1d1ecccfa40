using Xunit;

namespace SsiHv.Tests.Vmm;

/// <summary>VMs run one at a time: the host has two cores and each guest wants them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class VmmTestCollection
{
    public const string Name = "KVM guests";
}
