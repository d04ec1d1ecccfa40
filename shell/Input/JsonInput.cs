using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using SsiHv.Core.Text;

namespace SsiHv.Shell.Input;

/// <summary>
/// A JSON document a person or a program handed us (an HTTP body, a topology or node config file) read into its
/// source-generated shape. Every way it can be wrong (not UTF-8, not JSON, the wrong kind of value, null) comes
/// back as one line that says where and what, never as a decoder's exception.
/// </summary>
public static class JsonInput
{
    public static T? Parse<T>(byte[] bytes, JsonTypeInfo<T> type, out string? problem) where T : class
    {
        var text = Utf8Text.check(bytes);
        if (text.IsError)
        {
            problem = Utf8Text.InvalidUtf8Module.text(text.ErrorValue);
            return null;
        }
        try
        {
            var document = JsonSerializer.Deserialize(bytes, type);
            problem = document is null ? "(top level): expected an object, found null" : null;
            return document;
        }
        catch (JsonException e)
        {
            problem = JsonErrorDescription.Describe(e, bytes, type);
            return null;
        }
    }
}
