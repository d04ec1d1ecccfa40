using System.Runtime.CompilerServices;

namespace SsiHv.Shell.Processes;

/// <summary>
/// The command line that starts this same build of ssihv again (the node hosts of <c>up</c>, the measured runs of
/// <c>bench</c>): the native executable itself when this process is the native AOT build; the apphost when it was
/// started through it; else <c>dotnet ssihv.dll</c> with the host that runs us (a test host loads ssihv.dll from
/// its own directory, where the build copies it).
/// </summary>
public static class SelfCommand
{
    public static (string Program, IReadOnlyList<string> Arguments) For(IReadOnlyList<string> arguments)
    {
        var processPath = Environment.ProcessPath;
        if (processPath is not null && (!RuntimeFeature.IsDynamicCodeSupported || Path.GetFileNameWithoutExtension(processPath) == "ssihv"))
            return (processPath, arguments);
        var dotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? processPath : "dotnet";
        return (dotnet, [Path.Combine(AppContext.BaseDirectory, "ssihv.dll"), .. arguments]);
    }
}
