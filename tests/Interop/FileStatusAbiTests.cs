using SsiHv.Interop.Linux;
using Xunit;
using static SsiHv.Tests.Interop.OurLayout;

namespace SsiHv.Tests.Interop;

/// <summary>Our struct stat and file type bits against glibc's &lt;sys/stat.h&gt;, compiled here with gcc.</summary>
public sealed class FileStatusAbiTests
{
    static readonly Lazy<Dictionary<string, ulong>> HeaderValues = new(() =>
        KernelHeaderValues.Evaluate(["sys/stat.h", "fcntl.h"], OurValues().Select(row => (string)row[0])));

    public static TheoryData<string, ulong> OurValues() => new()
    {
        { "sizeof(struct stat)", Size<FileStatus>() },
        { "offsetof(struct stat, st_mode)", Offset<FileStatus>(nameof(FileStatus.Mode)) },
        { "offsetof(struct stat, st_size)", Offset<FileStatus>(nameof(FileStatus.Size)) },
        { "S_IFMT", FileStatus.TypeMask },
        { "S_IFIFO", FileStatus.Fifo },
        { "S_IFCHR", FileStatus.CharacterDevice },
        { "S_IFDIR", FileStatus.Directory },
        { "S_IFBLK", FileStatus.BlockDevice },
        { "S_IFREG", FileStatus.Regular },
        { "S_IFLNK", FileStatus.SymbolicLink },
        { "S_IFSOCK", FileStatus.Socket },
    };

    [Theory]
    [MemberData(nameof(OurValues))]
    public void Our_value_is_the_headers(string expression, ulong ours) => Assert.Equal(HeaderValues.Value[expression], ours);
}
