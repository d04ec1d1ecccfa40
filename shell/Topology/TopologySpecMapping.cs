using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using SsiHv.Core.Topology;
using static SsiHv.Shell.FSharpOptions;

namespace SsiHv.Shell.Topology;

/// <summary>
/// Turns the JSON document into the core's <see cref="TopologySpec"/>: null becomes None, lists become F# lists.
/// The only rule checked here is one the core's types cannot express: a JSON <c>null</c> where an object or a
/// row is expected (a null field is simply "absent" and left to the validator).
/// </summary>
public static class TopologySpecMapping
{
    public static TopologySpec ToSpec(TopologyDocument document, List<TopologyError> errors) =>
        new(
            Option(document.Name),
            OptionalList(document.Nodes, "nodes", "an object", ToNodeSpec, errors),
            Matrix(document.Distances, "distances", errors),
            Matrix(document.LatencyNs, "latencyNs", errors),
            Matrix(document.BandwidthMBps, "bandwidthMBps", errors),
            OptionalList(document.Caches, "caches", "an object", ToCacheSpec, errors),
            Option(document.Placement));

    static NodeSpec ToNodeSpec(NodeDocument node) =>
        new(Option(node.Id), Option(node.Cpus), Option(node.MemoryMiB), Option(node.Address), Option(node.Initiator));

    static CacheSpec ToCacheSpec(CacheDocument cache) =>
        new(Option(cache.Node), Option(cache.SizeMiB), Option(cache.Level), Option(cache.Associativity),
            Option(cache.WritePolicy), Option(cache.LineBytes));

    static FSharpOption<FSharpList<FSharpList<long>>>? Matrix(
        List<List<long>?>? rows, string field, List<TopologyError> errors) =>
        OptionalList(rows, field, "an array of numbers", row => ListModule.OfSeq(row), errors);

    /// Maps each element; a null element is reported at its index and dropped so validation can go on.
    static FSharpOption<FSharpList<TResult>>? OptionalList<TSource, TResult>(
        List<TSource?>? items, string field, string expected, Func<TSource, TResult> map, List<TopologyError> errors)
        where TSource : class
    {
        if (items is null)
            return null;
        var mapped = new List<TResult>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is { } item)
                mapped.Add(map(item));
            else
                errors.Add(new TopologyError($"{field}[{i}]", $"expected {expected}, found null"));
        }
        return FSharpOption<FSharpList<TResult>>.Some(ListModule.OfSeq(mapped));
    }
}
