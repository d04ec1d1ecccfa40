using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace SsiHv.Shell.Input;

/// <summary>
/// Rewrites a <see cref="JsonException"/> from deserializing a document as one line a person can act on:
/// "line L: nodes[0].cpus: expected an integer ..., found "2"". The expected type comes from the source-generated
/// metadata and the found value from the document itself, so the .NET type names in the exception never reach
/// the user.
/// </summary>
public static class JsonErrorDescription
{
    public static string Describe(JsonException error, byte[] json, JsonTypeInfo rootType)
    {
        var line = $"line {(error.LineNumber ?? 0) + 1}";
        var segments = PathSegments(error.Path ?? "$");
        var field = segments.Count == 0 ? "(top level)" : FieldPath(segments);

        // The reader reports broken syntax as an inner JsonException carrying its own message.
        if (error.InnerException is JsonException syntax)
        {
            var column = (error.BytePositionInLine ?? 0) + 1;
            return $"{line}, column {column}: not valid JSON ({WithoutPosition(syntax.Message)}) in {field}";
        }
        // System.Text.Json has no dedicated exception type for a repeated member; its message is the only sign.
        if (error.Message.StartsWith("Duplicate property", StringComparison.Ordinal))
            return $"{line}: {field}: given more than once; keep one";

        var expected = ExpectedAt(rootType, segments);
        var found = FoundAt(json, segments);
        return $"{line}: {field}: expected {expected}{(found is null ? "" : $", found {found}")}";
    }

    /// "$.nodes[0]['odd name']" → ["nodes", 0, "odd name"]: property names as strings, indices as ints.
    static List<object> PathSegments(string path)
    {
        var segments = new List<object>();
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                if (end < 0) end = path.Length;
                segments.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['"))
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0) break;
                segments.Add(path[(i + 2)..end]);
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i + 1);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), out var index)) break;
                segments.Add(index);
                i = end + 1;
            }
            else break;
        }
        return segments;
    }

    static string FieldPath(List<object> segments)
    {
        var text = new StringBuilder();
        foreach (var segment in segments)
        {
            if (segment is int index)
                text.Append('[').Append(index).Append(']');
            else
                text.Append(text.Length == 0 ? "" : ".").Append(segment);
        }
        return text.ToString();
    }

    static string ExpectedAt(JsonTypeInfo root, List<object> segments)
    {
        var type = root;
        foreach (var segment in segments)
        {
            JsonTypeInfo? next = null;
            if (segment is string name && type.Kind == JsonTypeInfoKind.Object)
                next = type.Properties.FirstOrDefault(p => p.Name == name) is { } property
                    ? type.Options.GetTypeInfo(property.PropertyType)
                    : null;
            else if (segment is int && type.Kind == JsonTypeInfoKind.Enumerable && type.ElementType is { } element)
                next = type.Options.GetTypeInfo(element);
            if (next is null)
                return "a different kind of value";
            type = next;
        }
        return Describe(type);
    }

    static string Describe(JsonTypeInfo type)
    {
        var clr = Nullable.GetUnderlyingType(type.Type) ?? type.Type;
        return type.Kind switch
        {
            JsonTypeInfoKind.Object => "an object",
            JsonTypeInfoKind.Enumerable => "an array",
            _ when clr == typeof(int) => $"an integer from {int.MinValue} to {int.MaxValue}",
            _ when clr == typeof(long) => $"an integer from {long.MinValue} to {long.MaxValue}",
            _ when clr == typeof(string) => "a string",
            _ when clr == typeof(double) => "a number",
            _ when clr == typeof(bool) => "true or false",
            _ => "a different kind of value",
        };
    }

    /// The offending value as the user wrote it, or null if the path does not lead to one.
    static string? FoundAt(byte[] json, List<object> segments)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
        }
        catch (JsonException)
        {
            return null;
        }
        using (document)
        {
            var element = document.RootElement;
            foreach (var segment in segments)
            {
                if (segment is string name && element.ValueKind == JsonValueKind.Object
                    && element.TryGetProperty(name, out var property))
                    element = property;
                else if (segment is int index && element.ValueKind == JsonValueKind.Array
                         && index < element.GetArrayLength())
                    element = element[index];
                else
                    return null;
            }
            return element.ValueKind switch
            {
                JsonValueKind.Object => "an object",
                JsonValueKind.Array => "an array",
                JsonValueKind.Null => "null",
                _ => Shorten(element.GetRawText()),
            };
        }
    }

    static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..37] + "...";

    /// The reader appends " LineNumber: L | BytePositionInLine: B." to its messages; we say it our way.
    static string WithoutPosition(string message)
    {
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var text = at < 0 ? message : message[..at];
        return text.TrimEnd('.', ' ');
    }
}
