namespace SsiHv.Shell.Lab;

/// <summary>The lab itself failed (image, QEMU, a machine that never became ready); the message says what and why.</summary>
public sealed class LabException(string message) : Exception(message);
