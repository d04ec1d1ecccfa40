using System.Diagnostics;
using Xunit;

namespace SsiHv.Tests.Interop;

/// <summary>
/// The kernel's own values of C expressions (sizeof, offsetof, ioctl macros, constants): a C program compiled
/// here against the installed headers prints each one, so our ABI definitions are checked against the
/// headers rather than against numbers copied by hand.
/// </summary>
public static class KernelHeaderValues
{
    static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

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
            Run("gcc", "-o", binary, source);
            return Run(binary).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('=', 2))
                .ToDictionary(parts => parts[0], parts => ulong.Parse(parts[1]));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    static string Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in {StepTimeout.TotalSeconds} s");
        }
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
