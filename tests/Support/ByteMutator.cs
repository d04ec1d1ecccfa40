using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;

namespace SsiHv.Tests.Support;

/// <summary>A valid input (named), the mutations applied to it, and the bytes they made: what a failure reports.</summary>
public sealed record Mutated(string Seed, IReadOnlyList<string> Mutations, byte[] Bytes)
{
    public override string ToString() =>
        $"{Seed} after {string.Join(", ", Mutations)}: {Convert.ToHexString(Bytes)}";
}

/// <summary>
/// The FsCheck-driven byte mutator of the shell's fuzz tests (docs/transport.md, "Fuzzing"): one to four
/// mutations of a real, valid input (flip a bit, set a byte to an edge value or a JSON delimiter, insert or delete
/// bytes, truncate, duplicate a chunk, splice a little-endian length in), so the reader is driven past its first
/// check into every field. `Iterations` is small for CI; SSIHV_FUZZ_ITERATIONS=N runs N inputs per target.
/// </summary>
public static class ByteMutator
{
    public static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("SSIHV_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 500;

    /// Checks `property` against `Iterations` mutated inputs made from `seeds`; throws with the input that failed.
    public static void Check(IReadOnlyList<(string Name, byte[] Bytes)> seeds, Func<Mutated, bool> property) =>
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(Iterations), Prop.ForAll(Arb.From(Of(seeds)), property));

    static readonly byte[] EdgeBytes = [0, 1, 0x7F, 0x80, 0xC0, 0xFF, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']',
        (byte)',', (byte)':', (byte)'\\', (byte)'-', (byte)'0', (byte)'9', (byte)'e', (byte)'.', (byte)'n', (byte)' '];
    static readonly uint[] EdgeLengths = [0, 1, 8, 9, 258, 259, 4104, 4105, 4160, 4161, 0x7FFFFFFF, 0x80000000, uint.MaxValue];

    static Gen<byte> AnyByte => Gen.Choose(0, 255).Select(i => (byte)i);

    public static Gen<Mutated> Of(IReadOnlyList<(string Name, byte[] Bytes)> seeds) =>
        from seed in Gen.Elements(seeds.ToArray())
        from count in Gen.Choose(1, 4)
        from result in Apply(seed.Bytes, [], count)
        select new Mutated(seed.Name, result.Applied, result.Bytes);

    static Gen<(byte[] Bytes, List<string> Applied)> Apply(byte[] bytes, List<string> applied, int count) =>
        count == 0
            ? Gen.Constant((bytes, applied))
            : Mutation(bytes.Length).SelectMany(m =>
            {
                var (name, mutate) = m;
                return Apply(mutate(bytes), [.. applied, name], count - 1);
            });

    static Gen<(string Name, Func<byte[], byte[]> Mutate)> Mutation(int length)
    {
        var at = Gen.Choose(0, Math.Max(0, length - 1));
        var upTo = Gen.Choose(0, length);
        return Gen.OneOf(
            from i in at from bit in Gen.Choose(0, 7)
            select ($"flip bit {bit} of byte {i}", (Func<byte[], byte[]>)(b => Set(b, i, x => (byte)(x ^ (1 << bit))))),
            from i in at from value in Gen.OneOf(Gen.Elements(EdgeBytes), AnyByte)
            select ($"set byte {i} to 0x{value:X2}", (Func<byte[], byte[]>)(b => Set(b, i, _ => value))),
            from i in upTo from inserted in Gen.Choose(1, 24).SelectMany(n => Gen.ArrayOf(AnyByte, n))
            select ($"insert {Convert.ToHexString(inserted)} at {i}", (Func<byte[], byte[]>)(b => [.. b.Take(i), .. inserted, .. b.Skip(i)])),
            from i in at from n in Gen.Choose(1, 24)
            select ($"delete {n} at {i}", (Func<byte[], byte[]>)(b => [.. b.Take(i), .. b.Skip(i + n)])),
            from i in upTo
            select ($"truncate at {i}", (Func<byte[], byte[]>)(b => b.Take(i).ToArray())),
            from from_ in at from n in Gen.Choose(1, 64) from i in upTo
            select ($"duplicate {n} from {from_} at {i}", (Func<byte[], byte[]>)(b => [.. b.Take(i), .. b.Skip(from_).Take(n), .. b.Skip(i)])),
            from i in Gen.OneOf(at, Gen.Constant(Math.Min(16, Math.Max(0, length - 4))))
            from value in Gen.OneOf(Gen.Elements(EdgeLengths), Gen.Choose(0, int.MaxValue).Select(v => (uint)v))
            select ($"splice {value} at {i}", (Func<byte[], byte[]>)(b => SpliceUInt32(b, i, value))));
    }

    static byte[] Set(byte[] bytes, int at, Func<byte, byte> value)
    {
        if (at >= bytes.Length)
            return bytes;
        var copy = (byte[])bytes.Clone();
        copy[at] = value(copy[at]);
        return copy;
    }

    static byte[] SpliceUInt32(byte[] bytes, int at, uint value)
    {
        if (at + 4 > bytes.Length)
            return bytes;
        var copy = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), value);
        return copy;
    }
}
