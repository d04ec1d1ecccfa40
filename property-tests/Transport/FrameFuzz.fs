/// Fuzzing the frame decoder: valid encodings of generated messages (single frames and streams of them), mutated
/// by a byte mutator (bits flipped, bytes set to edge values, bytes inserted and deleted, the input truncated,
/// chunks duplicated, little-endian integers such as payload lengths spliced in), fed to Frame.decode frame after
/// frame. Checked: decode never throws, never reports more bytes than it was given or a need beyond one frame,
/// and every frame it decodes re-encodes to exactly the bytes it consumed.
///
/// Bounded for CI by default; SSIHV_FUZZ_ITERATIONS=N runs N mutated inputs instead (docs/transport.md, "Fuzzing").
module SsiHv.PropertyTests.Transport.FrameFuzz

open System
open System.Buffers.Binary
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Transport
open SsiHv.PropertyTests.Transport.TransportGenerators

let iterations =
    match Environment.GetEnvironmentVariable "SSIHV_FUZZ_ITERATIONS" |> Option.ofObj |> Option.map Int32.TryParse with
    | Some(true, n) when n > 0 -> n
    | _ -> 2000

let private config = { FsCheckConfig.defaultConfig with maxTest = iterations }

type Mutation =
    | FlipBit of at: int * bit: int
    | SetByte of at: int * value: byte
    | Insert of at: int * bytes: byte[]
    | Delete of at: int * count: int
    | Truncate of at: int
    | Duplicate of from: int * count: int * at: int
    | SpliceUInt32 of at: int * value: uint32

/// Values at the edges of the fields: lengths around the bounds, type codes past the last, all ones.
let private edgeBytes = [| 0uy; 1uy; 9uy; 15uy; 16uy; 0x7Fuy; 0x80uy; 0xFEuy; 0xFFuy |]

let private edgeUInt32s =
    [| 0u; 1u; 2u; 8u; 9u; 12u; 27u; 36u; 67u; 258u; 259u; 4104u; uint32 Frame.maxPayloadLength
       uint32 Frame.maxPayloadLength + 1u; 0x7FFFFFFFu; 0x80000000u; UInt32.MaxValue |]

let private mutation (length: int) =
    let at = Gen.choose (0, max 0 (length - 1))
    Gen.oneof
        [ Gen.map2 (fun at bit -> FlipBit(at, bit)) at (Gen.choose (0, 7))
          Gen.map2 (fun at value -> SetByte(at, value)) at (Gen.oneof [ Gen.elements edgeBytes; ArbMap.defaults |> ArbMap.generate<byte> ])
          Gen.map2 (fun at bytes -> Insert(at, bytes)) (Gen.choose (0, length)) (Gen.choose (1, 24) |> Gen.bind bytes)
          Gen.map2 (fun at count -> Delete(at, count)) at (Gen.choose (1, 24))
          Gen.map Truncate (Gen.choose (0, length))
          Gen.map3 (fun from count at -> Duplicate(from, count, at)) at (Gen.choose (1, 64)) (Gen.choose (0, length))
          // Frames' lengths sit at offset 16 of each header: aim at them as often as anywhere else.
          Gen.map2 (fun at value -> SpliceUInt32(at, value))
              (Gen.oneof [ at; Gen.constant (min 16 (max 0 (length - 4))) ])
              (Gen.oneof [ Gen.elements edgeUInt32s; ArbMap.defaults |> ArbMap.generate<uint32> ]) ]

let apply (bytes: byte[]) (m: Mutation) : byte[] =
    let n = bytes.Length
    let clamp at = min (max at 0) n
    match m with
    | FlipBit(at, bit) when at < n -> let c = Array.copy bytes in c.[at] <- c.[at] ^^^ (1uy <<< bit); c
    | SetByte(at, value) when at < n -> let c = Array.copy bytes in c.[at] <- value; c
    | Insert(at, inserted) -> Array.concat [ bytes.[.. clamp at - 1]; inserted; bytes.[clamp at ..] ]
    | Delete(at, count) when at < n -> Array.append bytes.[.. at - 1] bytes.[min n (at + count) ..]
    | Truncate at -> bytes.[.. clamp at - 1]
    | Duplicate(from, count, at) when from < n ->
        let chunk = bytes.[from .. min n (from + count) - 1]
        Array.concat [ bytes.[.. clamp at - 1]; chunk; bytes.[clamp at ..] ]
    | SpliceUInt32(at, value) when at + 4 <= n ->
        let c = Array.copy bytes
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan at, value)
        c
    | _ -> bytes

/// One to four mutations of one valid encoding; the mutations are kept to report a failure.
let mutated (seeds: Gen<byte[]>) =
    gen {
        let! seed = seeds
        let! count = Gen.choose (1, 4)
        let rec go bytes applied k =
            if k = 0 then Gen.constant (bytes, List.rev applied)
            else mutation (Array.length bytes) |> Gen.bind (fun m -> go (apply bytes m) (m :: applied) (k - 1))
        let! bytes, mutations = go seed [] count
        return seed, mutations, bytes
    }

/// Valid encodings: one frame, or a short stream of them.
let private encodings =
    Gen.oneof
        [ envelope |> Gen.map Frame.encode
          Gen.choose (2, 4) |> Gen.bind (fun n -> Gen.listOfLength n envelope) |> Gen.map (List.map Frame.encode >> Array.concat) ]

/// Decodes frame after frame; the first problem found, if any.
let rec private check (bytes: byte[]) : string option =
    let result = try Ok(Frame.decode (ReadOnlySpan bytes)) with e -> Error e
    match result with
    | Error e -> Some(sprintf "decode threw %s" (e.ToString()))
    | Ok(Frame.NeedMore more) when more <= 0 || bytes.Length + more > Frame.maxFrameLength ->
        Some(sprintf "NeedMore %d with %d bytes buffered" more bytes.Length)
    | Ok(Frame.NeedMore _) | Ok(Frame.Malformed _) -> None
    | Ok(Frame.Decoded(envelope, consumed)) ->
        if consumed < Frame.headerLength || consumed > bytes.Length then
            Some(sprintf "consumed %d of %d bytes" consumed bytes.Length)
        elif Frame.encode envelope <> bytes.[.. consumed - 1] then
            Some(sprintf "%A re-encodes differently from the %d bytes it came from" envelope consumed)
        else check bytes.[consumed..]

let tests =
    testList "frame fuzz" [
        testPropertyWithConfig config "mutated frames never make decode throw, read past its input, or decode what does not re-encode to the same bytes" <|
            Prop.forAll (Arb.fromGen (mutated encodings)) (fun (_, mutations, bytes) ->
                match check bytes with
                | None -> true |> Prop.label ""
                | Some problem -> false |> Prop.label (sprintf "%s\nmutations: %A\ninput: %s" problem mutations (Convert.ToHexString bytes)))
    ]
