namespace SsiHv.Shell.Up;

/// <summary>`ssihv up` could not bring the cluster through its run; `Lines` say why, for a person to act on.</summary>
public sealed class ClusterRunException(IReadOnlyList<string> lines) : Exception(string.Join(Environment.NewLine, lines))
{
    public IReadOnlyList<string> Lines { get; } = lines;
}

/// <summary>The cluster cannot be planned from the input (exit 2); `Lines` name the file and the field.</summary>
public sealed class ClusterInputException(IReadOnlyList<string> lines) : Exception(string.Join(Environment.NewLine, lines))
{
    public IReadOnlyList<string> Lines { get; } = lines;
}
