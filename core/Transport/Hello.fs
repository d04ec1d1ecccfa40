/// The authenticated hello every connection starts with (docs/design.md §4.6), as a pure state machine: the shell
/// generates the nonce, sends what `Send` says (request id 0) and feeds every decoded message to `step` until
/// the state is Authenticated or Rejected; only then does the connection carry requests.
///
/// Both sides send Hello(own id, own nonce) at once. On the peer's Hello each side sends
///     proof = HMAC-SHA256(secret, role || own node id || peer nonce || own nonce)
/// and checks the peer's proof the same way with the peer's role. The peer nonce makes every proof good for one
/// connection only (no replay); the role byte makes a proof reflected back at its sender wrong.
namespace SsiHv.Core.Transport

open System
open System.Buffers.Binary
open System.Security.Cryptography
open SsiHv.Core.Paging
open SsiHv.Core.Topology

/// The cluster secret from the node configuration.
type ClusterSecret = internal ClusterSecret of byte[]

module ClusterSecret =
    /// 128 bits: less would make the HMAC guessable offline from one recorded hello.
    let minimumLength = 16

    let tryCreate (bytes: byte[]) =
        if bytes.Length >= minimumLength then Ok(ClusterSecret(Array.copy bytes))
        else Error("the cluster secret must be at least " + string minimumLength + " bytes, found " + string bytes.Length)

/// Which end of the connection: the side that dialled is the Initiator.
type HelloRole =
    | Initiator
    | Responder

type HelloConfig =
    { Role: HelloRole
      Self: NodeId
      Secret: ClusterSecret
      /// Fresh for every connection.
      Nonce: Nonce }

type HelloState =
    /// Our Hello is sent; the peer's has not come.
    | AwaitingHello of HelloConfig
    /// Our proof is sent; the peer's is due.
    | AwaitingProof of HelloConfig * peer: NodeId * peerNonce: Nonce
    | Authenticated of peer: NodeId
    | Rejected of reason: string

type HelloEvent = Received of Message

type HelloAction =
    /// Send with request id 0.
    | Send of Message
    /// The peer proved it knows the secret: hand the connection to the request dispatcher.
    | Accept of peer: NodeId
    /// Close the connection after sending what came before; the reason is for the log.
    | Close of reason: string

module Hello =
    let private roleByte role =
        match role with
        | Initiator -> 1uy
        | Responder -> 2uy

    let private otherRole role =
        match role with
        | Initiator -> Responder
        | Responder -> Initiator

    /// HMAC-SHA256(secret, role || node id (i32 LE) || peer nonce || own nonce): what `node`, acting as
    /// `role`, sends to prove it knows the secret.
    let proof (ClusterSecret secret) (role: HelloRole) (node: NodeId) (Nonce peerNonce) (Nonce ownNonce) =
        let data = Array.zeroCreate (1 + 4 + 2 * Nonce.length)
        data.[0] <- roleByte role
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan 1, node.Value)
        peerNonce.CopyTo(data, 5)
        ownNonce.CopyTo(data, 5 + Nonce.length)
        Proof(HMACSHA256.HashData(secret, data))

    let start (config: HelloConfig) = AwaitingHello config, [ Send(Hello(config.Self, config.Nonce)) ]

    let private reject reason =
        Rejected reason, [ Send(ErrorReply(ErrorCode.helloRejected, ErrorText.ofString reason)); Close reason ]

    /// The peer refused us: answering its error with ours would only echo.
    let private refusedByPeer (ErrorText text) = let reason = "the peer refused the hello: " + text in Rejected reason, [ Close reason ]

    let step (state: HelloState) (Received message) : HelloState * HelloAction list =
        match state, message with
        | AwaitingHello config, Hello(peer, peerNonce) ->
            if peerNonce = config.Nonce then
                reject ("node " + string peer.Value + " sent our own nonce back: a reflected hello")
            else
                AwaitingProof(config, peer, peerNonce),
                [ Send(HelloProof(proof config.Secret config.Role config.Self peerNonce config.Nonce)) ]
        | AwaitingProof(config, peer, peerNonce), HelloProof(Proof received) ->
            let (Proof expected) = proof config.Secret (otherRole config.Role) peer config.Nonce peerNonce
            if CryptographicOperations.FixedTimeEquals(ReadOnlySpan expected, ReadOnlySpan received) then
                Authenticated peer, [ Accept peer ]
            else
                reject ("node " + string peer.Value + "'s proof does not match: a different cluster secret, or a proof made for another connection")
        | (AwaitingHello _ | AwaitingProof _), ErrorReply(_, text) -> refusedByPeer text
        | AwaitingHello _, other -> reject ("expected Hello first, received " + Message.name other)
        | AwaitingProof(_, peer, _), other -> reject ("expected HelloProof from node " + string peer.Value + ", received " + Message.name other)
        // Finished: the dispatcher owns the connection now (or it is closed); nothing here changes.
        | (Authenticated _ | Rejected _), _ -> state, []
