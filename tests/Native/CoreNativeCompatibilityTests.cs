using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace SsiHv.Tests.Native;

/// <summary>
/// The F# core uses none of the FSharp.Core members that cannot run in the native executable (docs/native.md):
/// printf (sprintf, failwithf, and interpolated strings that F# compiles to it: any with a non-string hole or more
/// than four parts), `lazy` and Seq.init (System.Lazy, which the trimmer rejects). The native publish fails on them
/// too, but its errors point into FSharp.Core; this names the members, so a grep of core/ finds the caller.
/// </summary>
public sealed class CoreNativeCompatibilityTests
{
    static readonly (string Type, string? Member)[] Forbidden =
    [
        ("PrintfModule", null),
        ("PrintfFormat`4", null),
        ("PrintfFormat`5", null),
        ("ExtraTopLevelOperators", "PrintFormatToString"),
        ("ExtraTopLevelOperators", "PrintFormatToStringThenFail"),
        ("LazyExtensions", null),
        ("SeqModule", "Initialize"),
        ("SeqModule", "InitializeInfinite"),
    ];

    [Fact]
    public void The_core_assembly_references_no_FSharp_Core_member_that_needs_code_generated_at_run_time()
    {
        var path = typeof(SsiHv.Core.Topology.NodeId).Assembly.Location;
        var offending = ForbiddenReferences(path);
        Assert.True(offending.Count == 0, $"{path} calls {string.Join(", ", offending)}: see docs/native.md");
    }

    [Fact]
    public void The_check_finds_the_printf_members_where_they_are_used()
    {
        // FSharp.Core's printf implementation uses its own PrintfFormat types through generic instantiations, the
        // same kind of reference an F# caller compiles to: the scan must see them, or the test above could not fail.
        var offending = ForbiddenReferences(typeof(Microsoft.FSharp.Core.PrintfModule).Assembly.Location);
        Assert.Contains(offending, used => used.StartsWith("PrintfFormat`", StringComparison.Ordinal));
    }

    /// "Type.Member" of every member reference in the assembly that the list above forbids.
    static List<string> ForbiddenReferences(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return metadata.MemberReferences
            .Select(handle => metadata.GetMemberReference(handle))
            .Select(reference => (Type: TypeName(metadata, reference.Parent), Member: metadata.GetString(reference.Name)))
            .Where(used => Forbidden.Any(f => f.Type == used.Type && (f.Member is null || f.Member == used.Member)))
            .Select(used => $"{used.Type}.{used.Member}")
            .Distinct()
            .ToList();
    }

    /// The name of a member reference's type: a type of another assembly, one of this assembly, or a generic
    /// instantiation of either (GENERICINST, CLASS or VALUETYPE, then the generic type).
    static string TypeName(MetadataReader metadata, EntityHandle parent)
    {
        switch (parent.Kind)
        {
            case HandleKind.TypeReference:
                return metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)parent).Name);
            case HandleKind.TypeDefinition:
                return metadata.GetString(metadata.GetTypeDefinition((TypeDefinitionHandle)parent).Name);
            case HandleKind.TypeSpecification:
                var blob = metadata.GetBlobReader(metadata.GetTypeSpecification((TypeSpecificationHandle)parent).Signature);
                if (blob.ReadByte() != 0x15)
                    return "";
                blob.ReadByte();
                return TypeName(metadata, blob.ReadTypeHandle());
            default:
                return "";
        }
    }
}
