using System.Runtime.InteropServices;
using SsiHv.Core.Input;
using SsiHv.Interop.Linux;

namespace SsiHv.Shell.Input;

/// <summary>An input file refused or unreadable; the message names the file and why, ready for a user.</summary>
public sealed class InputFileException(string message) : Exception(message);

/// <summary>
/// Reads the files a node host takes as input, as the core's <see cref="InputFile.admit"/> allows: a regular
/// file within its kind's limit, judged on the open descriptor so that the file checked is the file read.
/// </summary>
public static class InputFiles
{
    /// As <see cref="Read"/>, with a refusal as the line to show instead of an exception.
    public static bool TryRead(string path, InputFile.InputKind kind, out byte[] bytes, out string problem)
    {
        try
        {
            bytes = Read(path, kind);
            problem = "";
            return true;
        }
        catch (InputFileException e)
        {
            bytes = [];
            problem = e.Message;
            return false;
        }
    }

    /// <summary>
    /// The file's bytes. `refusalOfOpened`, when given, is asked about the path the open descriptor has
    /// (/proc/self/fd, every symlink resolved by the kernel) before anything is read, and refuses with its answer.
    /// </summary>
    public static byte[] Read(string path, InputFile.InputKind kind, Func<string, string?>? refusalOfOpened = null)
    {
        FileStatus status;
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = InputFileHandle.Open(path, out status);
        }
        catch (LinuxError e)
        {
            throw new InputFileException($"{path}: cannot read: {Marshal.GetPInvokeErrorMessage(e.Errno)}");
        }
        using (handle)
        {
            if (refusalOfOpened?.Invoke(OpenedPath(handle)) is { } refused)
                throw new InputFileException($"{path}: {refused}");
            Admit(path, kind, KindOf(status), status.Size);
            // The file may grow after fstat: read one byte past the limit to know.
            var limit = InputFile.InputKindModule.limitBytes(kind);
            var bytes = new byte[Math.Min(status.Size, limit) + 1];
            var length = 0;
            try
            {
                int read;
                while (length < bytes.Length && (read = RandomAccess.Read(handle, bytes.AsSpan(length), length)) > 0)
                    length += read;
            }
            catch (IOException e)
            {
                throw new InputFileException($"{path}: cannot read: {e.Message}");
            }
            Admit(path, kind, InputFile.FileKind.Regular, length);
            return bytes[..length];
        }
    }

    static string OpenedPath(Microsoft.Win32.SafeHandles.SafeFileHandle handle) =>
        new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget
        ?? throw new InputFileException($"/proc/self/fd/{handle.DangerousGetHandle()}: not a link; is /proc mounted?");

    static void Admit(string path, InputFile.InputKind kind, InputFile.FileKind fileKind, long size)
    {
        var admitted = InputFile.admit(kind, fileKind, size);
        if (admitted.IsError)
            throw new InputFileException($"{path}: {InputFile.InputFileErrorModule.text(admitted.ErrorValue)}");
    }

    static InputFile.FileKind KindOf(FileStatus status) => status.Type switch
    {
        FileStatus.Regular => InputFile.FileKind.Regular,
        FileStatus.Directory => InputFile.FileKind.Directory,
        FileStatus.Fifo => InputFile.FileKind.Fifo,
        FileStatus.CharacterDevice => InputFile.FileKind.CharacterDevice,
        FileStatus.BlockDevice => InputFile.FileKind.BlockDevice,
        FileStatus.Socket => InputFile.FileKind.Socket,
        _ => InputFile.FileKind.Other,
    };
}
