module SsiHv.PropertyTests.Transport.HelloProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Paging
open SsiHv.Core.Topology
open SsiHv.Core.Transport
open SsiHv.PropertyTests.Transport.TransportGenerators

let private config = { FsCheckConfig.defaultConfig with maxTest = 200 }

let private secret =
    bytes 32 |> Gen.map (fun b -> match ClusterSecret.tryCreate b with Ok s -> s | Error e -> failwith e)

let private nodeId = Gen.choose (0, 63) |> Gen.map NodeId

let private side role self secret nonce = { Role = role; Self = self; Secret = secret; Nonce = nonce }

let private sent actions = actions |> List.choose (function Send m -> Some m | _ -> None)

let private isRejected state = match state with Rejected _ -> true | _ -> false

/// Feeds messages one at a time; never throws if `step` never throws.
let private feed state messages =
    messages |> List.fold (fun (state, actions) m -> let state, more = Hello.step state (Received m) in state, actions @ more) (state, [])

let private tail list = match list with [] -> [] | _ :: rest -> rest

/// Two sides connected by one FIFO per direction; `order` picks which side receives next, so every
/// interleaving of the two directions is tried.
let private converse (a, toB) (b, toA) (order: bool list) =
    let rec run a b toA toB order =
        match toA, toB, order with
        | [], [], _ -> a, b
        | m :: rest, _, (true :: _ | []) | m :: rest, [], _ ->
            let a, actions = Hello.step a (Received m)
            run a b rest (toB @ sent actions) (tail order)
        | _, m :: rest, _ ->
            let b, actions = Hello.step b (Received m)
            run a b (toA @ sent actions) rest (tail order)
    run a b toA toB order

type private Pair = { InitiatorId: NodeId; ResponderId: NodeId; SecretA: ClusterSecret; SecretB: ClusterSecret; NonceA: Nonce; NonceB: Nonce; Order: bool list }

let private pairs sameSecret =
    gen {
        let! i = nodeId
        let! r = nodeId
        let! secretA = secret
        let! secretB = if sameSecret then Gen.constant secretA else secret
        let! nonceA = nonce
        let! nonceB = nonce
        let! order = Gen.listOf (Gen.elements [ true; false ])
        return { InitiatorId = i; ResponderId = r; SecretA = secretA; SecretB = secretB; NonceA = nonceA; NonceB = nonceB; Order = order }
    }

let private run pair =
    let a, fromA = Hello.start (side Initiator pair.InitiatorId pair.SecretA pair.NonceA)
    let b, fromB = Hello.start (side Responder pair.ResponderId pair.SecretB pair.NonceB)
    converse (a, sent fromA) (b, sent fromB) pair.Order

/// Everything the initiator sent in an honest session, as an eavesdropper records it.
let private recordInitiator pair =
    let _, fromB = Hello.start (side Responder pair.ResponderId pair.SecretB pair.NonceB)
    let a, fromA = Hello.start (side Initiator pair.InitiatorId pair.SecretA pair.NonceA)
    let _, afterHello = Hello.step a (Received(List.head (sent fromB)))
    sent fromA @ sent afterHello

let tests =
    testList "hello" [
        testPropertyWithConfig config "two honest sides with the same secret authenticate each other, in any interleaving" <|
            Prop.forAll (Arb.fromGen (pairs true)) (fun pair ->
                run pair = (Authenticated pair.ResponderId, Authenticated pair.InitiatorId))

        testPropertyWithConfig config "with different secrets both sides reject" <|
            Prop.forAll (Arb.fromGen (pairs false)) (fun pair ->
                let a, b = run pair
                isRejected a && isRejected b)

        testPropertyWithConfig config "a proof recorded from another connection is rejected (replay)" <|
            Prop.forAll (Arb.fromGen (Gen.zip (pairs true) nonce)) (fun (pair, freshNonce) ->
                let recorded = recordInitiator pair
                let victim, _ = Hello.start (side Responder pair.ResponderId pair.SecretB freshNonce)
                let state, actions = feed victim recorded
                isRejected state && actions |> List.exists (function Close _ -> true | _ -> false))

        testPropertyWithConfig config "a side's own proof reflected back at it is rejected" <|
            Prop.forAll (Arb.fromGen (Gen.zip (pairs true) nonce)) (fun (pair, attackerNonce) ->
                let victim, _ = Hello.start (side Responder pair.ResponderId pair.SecretB pair.NonceB)
                // The attacker says hello as the victim's own id, then echoes the victim's proof.
                let victim, actions = Hello.step victim (Received(Hello(pair.ResponderId, attackerNonce)))
                let echoed = sent actions
                let state, _ = feed victim echoed
                isRejected state)

        testPropertyWithConfig config "a side's own hello reflected back at it is rejected" <|
            Prop.forAll (Arb.fromGen (pairs true)) (fun pair ->
                let victim, hello = Hello.start (side Initiator pair.InitiatorId pair.SecretA pair.NonceA)
                isRejected (fst (feed victim (sent hello))))

        testPropertyWithConfig config "a proof made with the secret but for another nonce is rejected" <|
            Prop.forAll (Arb.fromGen (Gen.zip (pairs true) nonce)) (fun (pair, otherNonce) ->
                let victim, _ = Hello.start (side Responder pair.ResponderId pair.SecretB pair.NonceB)
                let forged = Hello.proof pair.SecretA Initiator pair.InitiatorId otherNonce pair.NonceA
                let state, _ = feed victim [ Hello(pair.InitiatorId, pair.NonceA); HelloProof forged ]
                otherNonce = pair.NonceB || isRejected state)

        testPropertyWithConfig config "arbitrary message sequences never throw, and authenticate only with the right proof" <|
            Prop.forAll (Arb.fromGen (Gen.zip (pairs true) (Gen.listOf message))) (fun (pair, messages) ->
                let start, _ = Hello.start (side Responder pair.ResponderId pair.SecretB pair.NonceB)
                let state, _ = feed start messages
                match messages, state with
                | [], AwaitingHello _ -> true
                | Hello _ :: _, Authenticated _ -> false
                | Hello _ :: _, _ -> true
                | ErrorReply _ :: _, Rejected reason -> reason.StartsWith "the peer refused the hello"
                | _ :: _, Rejected reason -> reason.StartsWith "expected Hello first"
                | _ -> false)

        test "rejections name what was expected and tell the peer why" {
            let secretA = match ClusterSecret.tryCreate (Array.create 16 1uy) with Ok s -> s | Error e -> failwith e
            let nonceOf b = match Nonce.tryCreate (Array.create 32 b) with Ok n -> n | Error e -> failwith e
            let responder, _ = Hello.start (side Responder (NodeId 1) secretA (nonceOf 2uy))
            let state, actions = Hello.step responder (Received(FetchPage(PageNumber 5UL)))
            Expect.equal state (Rejected "expected Hello first, received FetchPage") "out of order"
            Expect.equal actions
                [ Send(ErrorReply(ErrorCode.helloRejected, ErrorText.ofString "expected Hello first, received FetchPage"))
                  Close "expected Hello first, received FetchPage" ] "error then close"
            let waiting, _ = Hello.step responder (Received(Hello(NodeId 0, nonceOf 3uy)))
            Expect.equal (fst (Hello.step waiting (Received Ping))) (Rejected "expected HelloProof from node 0, received Ping") "proof due"
            Expect.isError (ClusterSecret.tryCreate (Array.zeroCreate 15)) "short secret"
        }
    ]
