using SsiHv.Tests.Support;

namespace SsiHv.Tests.Interop;

/// <summary>
/// The kernel's own values of C expressions (sizeof, offsetof, ioctl macros, constants): a C program compiled
/// here against the installed headers prints each one, so our ABI definitions are checked against the
/// headers rather than against numbers copied by hand.
/// </summary>
public static class KernelHeaderValues
{
    public static Dictionary<string, ulong> Evaluate(IEnumerable<string> headers, IEnumerable<string> expressions)
    {
        var directory = Directory.CreateTempSubdirectory("ssihv-abi-").FullName;
        try
        {
            var source = Path.Combine(directory, "abi.c");
            File.WriteAllText(source,
                string.Concat(new[] { "stdio.h", "stddef.h" }.Concat(headers).Select(h => $"#include <{h}>\n"))
                + "int main(void) {\n"
                + string.Concat(expressions.Select(e => $"  printf(\"%s=%llu\\n\", \"{e}\", (unsigned long long)({e}));\n"))
                + "  return 0;\n}\n");
            var binary = Path.Combine(directory, "abi");
            ExternalProcess.Output("gcc", "-o", binary, source);
            return ExternalProcess.Output(binary).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('=', 2))
                .ToDictionary(parts => parts[0], parts => ulong.Parse(parts[1]));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
