namespace SsiHv.Shell.Bench;

/// <summary>One run of one side of <c>ssihv bench transport</c>: each 1-outstanding round trip (µs) and the pipelined rate.</summary>
public sealed record TransportRun(double[] SequentialMicroseconds, double PipelinedRequestsPerSecond);

/// <summary>Every run of both sides, in the order they ran, and the parameters they shared.</summary>
public sealed record TransportResults(int Sequential, int Pipelined, int Depth, IReadOnlyList<TransportRun> Ours, IReadOnlyList<TransportRun> Reference);
