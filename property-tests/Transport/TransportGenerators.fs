/// Generators of every transport message, shared by the frame and hello properties.
module SsiHv.PropertyTests.Transport.TransportGenerators

open FsCheck.FSharp
open SsiHv.Core.Paging
open SsiHv.Core.Topology
open SsiHv.Core.Transport

let private unwrap result =
    match result with
    | Ok value -> value
    | Error message -> failwith message

let bytes length = ArbMap.defaults |> ArbMap.generate<byte> |> Gen.arrayOfLength length

let nonce = bytes Nonce.length |> Gen.map (Nonce.tryCreate >> unwrap)
let proof = bytes Proof.length |> Gen.map (Proof.tryCreate >> unwrap)

/// Pages are mostly zeroes or one repeated byte in practice; random bytes cover the codec just as well.
let page = bytes PageBytes.length |> Gen.map (PageBytes.tryCreate >> unwrap)

let private uint64s = ArbMap.defaults |> ArbMap.generate<uint64>
let private pages = uint64s |> Gen.map PageNumber
let private nodeIds = ArbMap.defaults |> ArbMap.generate<int> |> Gen.map NodeId
let private any<'t> = ArbMap.defaults |> ArbMap.generate<'t>

let gid = bytes Gid.length |> Gen.map (Gid.tryCreate >> unwrap)

let rdmaEndpoint =
    gen {
        let! qp = any<uint32>
        let! psn = any<uint32>
        let! lid = any<uint16>
        let! gid = gid
        let! mtu = any<byte>
        return { QueuePair = qp; PacketSequence = psn; Lid = lid; Gid = gid; Mtu = mtu }
    }

let rdmaRegion =
    Gen.map3 (fun address key length -> { Address = address; Key = key; Length = length }) uint64s any<uint32> uint64s

/// Any string, including unpaired surrogates and texts far over the bound, plus long multi-byte texts that
/// must be cut on a character boundary.
let errorText =
    Gen.oneof
        [ ArbMap.defaults |> ArbMap.generate<string>
          Gen.elements [ "é"; "€"; "😀"; "\ud800" ] |> Gen.listOf |> Gen.map (String.concat "") ]
    |> Gen.map ErrorText.ofString

let message =
    Gen.oneof
        [ Gen.map2 (fun node n -> Hello(node, n)) nodeIds nonce
          Gen.map HelloProof proof
          Gen.map FetchPage pages
          Gen.map2 (fun p bytes -> PageData(p, bytes)) pages page
          Gen.map2 (fun p bytes -> StorePage(p, bytes)) pages page
          Gen.map Stored pages
          Gen.map2 (fun p requester -> Invalidate(p, requester)) pages nodeIds
          Gen.map InvalidateAck pages
          Gen.map2 (fun code text -> ErrorReply(code, text)) (ArbMap.defaults |> ArbMap.generate<uint16>) errorText
          Gen.constant Ping
          Gen.constant Pong
          Gen.map RdmaConnect rdmaEndpoint
          Gen.map3 (fun e pages versions -> RdmaAccept(e, pages, versions)) rdmaEndpoint rdmaRegion rdmaRegion
          Gen.map LocatePage pages
          Gen.map2 (fun p slot -> PageLocation(p, slot)) pages any<int64> ]

let envelope = Gen.map2 (fun id m -> { RequestId = id; Message = m }) uint64s message
