namespace SsiHv.Shell.Up;

/// <summary>A control API call that failed or a wait that ran out of time; the message says which and why.</summary>
public sealed class ClusterApiException(string message) : Exception(message);
