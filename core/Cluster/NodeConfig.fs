/// The node configuration of `ssihv node --config FILE` (docs/node-host.md): the raw record the shell reads from
/// JSON, every rule of the documented table, and the typed configuration a node host runs with. Every broken
/// rule is reported at once, each naming its field, so one edit of the file can fix them all.
module SsiHv.Core.Cluster.NodeConfig

open System
open SsiHv.Core.Cluster.Membership
open SsiHv.Core.Paging
open SsiHv.Core.Transport

/// The file as written: a field the user left out is None, so "missing" is reported like any other rule.
type RawNodeConfig =
    { Id: int option
      Transport: string option
      Http: string option
      Secret: string option
      ApiToken: string option
      Cpus: int option
      MemoryMiB: int64 option
      Initiator: int option
      Boot: bool option
      Join: string option
      Topology: string option
      MemoryBudgetMiB: int64 option
      StoreMiB: int64 option
      TimeoutScale: int option }

/// An IPv4 address and a TCP port; port 0 lets the kernel pick a free one (tests, `ssihv up`).
type Endpoint =
    { Address: string
      Port: int }

    override this.ToString() = sprintf "%s:%d" this.Address this.Port

type NodeRole =
    /// Runs the membership and the VM. `TopologyFile` describes the assembled VM's distances, HMAT and caches.
    | BootNode of topologyFile: string option * memoryBudgetMiB: int64 option
    /// Joins the boot node whose control API is at this absolute http URL.
    | MemoryNode of joinUrl: string

type NodeConfig =
    { Id: NodeId
      Transport: Endpoint
      Http: Endpoint
      Secret: ClusterSecret
      ApiToken: string
      Cpus: int
      MemoryMiB: int64
      /// Host memory the page store may fill: the node's own memoryMiB plus room for pages of drained nodes.
      StoreMiB: int64
      Initiator: NodeId option
      Role: NodeRole
      /// Multiplies the node host's timeouts (the transport's request, connect, reconnect and keep-alive ones, its
      /// start-up and join, the boot node's control steps): 1 on real machines; more for node hosts on emulated
      /// ones, where a page's round trip or a start-up can take many times longer (`ssihv up --lab` writes 10).
      TimeoutScale: int }

/// A broken rule: the field (as spelled in the file) and what was expected there.
type ConfigError = { Field: string; Rule: string }

let minimumApiTokenLength = 16
let maximumTimeoutScale = 100
let minimumSecretHexDigits = ClusterSecret.minimumLength * 2

let private error field rule = { Field = field; Rule = rule }

let private required field (value: 'a option) check =
    match value with
    | None -> Error [ error field "required" ]
    | Some v -> check v

/// "a.b.c.d:port" with four decimal octets; no host names, because a name would need a resolver (I/O).
let parseEndpoint (text: string) : Result<Endpoint, string> =
    let expected = sprintf "expected IPv4:port such as 127.0.0.1:7101, found \"%s\"" text
    match text.Split ':' with
    | [| host; port |] ->
        let octets = host.Split '.'
        let octetOk (o: string) =
            o.Length >= 1 && o.Length <= 3 && o |> Seq.forall Char.IsAsciiDigit && int o <= 255
        let portOk = port.Length >= 1 && port.Length <= 5 && port |> Seq.forall Char.IsAsciiDigit && int port <= 65535
        if octets.Length = 4 && Array.forall octetOk octets && portOk then
            Ok { Address = octets |> Array.map (int >> string) |> String.concat "."; Port = int port }
        else Error expected
    | _ -> Error expected

let private endpoint field (value: string option) =
    required field value (fun text -> parseEndpoint text |> Result.mapError (fun rule -> [ error field rule ]))

let private secret (value: string option) =
    required "secret" value (fun text ->
        let isHex = text |> Seq.forall Char.IsAsciiHexDigit
        if not isHex then
            Error [ error "secret" "expected hex digits (0-9, a-f) only" ]
        elif text.Length < minimumSecretHexDigits then
            Error [ error "secret" (sprintf "expected at least %d hex digits, found %d" minimumSecretHexDigits text.Length) ]
        elif text.Length % 2 <> 0 then
            Error [ error "secret" (sprintf "expected an even number of hex digits (whole bytes), found %d" text.Length) ]
        else
            ClusterSecret.tryCreate (Convert.FromHexString text) |> Result.mapError (fun rule -> [ error "secret" rule ]))

let private apiToken (value: string option) =
    required "apiToken" value (fun token ->
        if token.Length < minimumApiTokenLength then
            Error [ error "apiToken" (sprintf "expected at least %d characters, found %d" minimumApiTokenLength token.Length) ]
        elif token |> Seq.exists (fun c -> Char.IsWhiteSpace c || Char.IsControl c) then
            Error [ error "apiToken" "expected no spaces or control characters (it travels in an Authorization header)" ]
        else Ok token)

/// An absolute http URL with an IPv4 host and a port, e.g. http://127.0.0.1:8100.
let parseJoinUrl (text: string) : Result<string, string> =
    let expected = sprintf "expected the boot node's control URL, http://IPv4:port, found \"%s\"" text
    let prefix = "http://"
    if text.StartsWith(prefix, StringComparison.Ordinal) then
        match parseEndpoint (text.Substring(prefix.Length).TrimEnd '/') with
        | Ok endpoint when endpoint.Port > 0 -> Ok(prefix + string endpoint)
        | _ -> Error expected
    else Error expected

let private role (raw: RawNodeConfig) (cpus: int option) =
    let bootOnly field (given: bool) =
        if given then [ error field "only the boot node (\"boot\": true) takes it; remove it from a memory node" ] else []
    match raw.Boot, raw.Join with
    | Some true, Some _ -> Error [ error "join" "give exactly one of \"boot\": true and \"join\"; a boot node joins nobody" ]
    | (None | Some false), None -> Error [ error "boot" "give exactly one of \"boot\": true (the boot node) and \"join\" (a memory node)" ]
    | Some true, None ->
        let topology =
            match raw.Topology with
            | Some path when String.IsNullOrWhiteSpace path -> [ error "topology" "expected a file path, found an empty string" ]
            | _ -> []
        let budget =
            match raw.MemoryBudgetMiB with
            | Some b when b <= 0L -> [ error "memoryBudgetMiB" (sprintf "expected a positive number of MiB, found %d" b) ]
            | _ -> []
        match topology @ budget with
        | [] -> Ok(BootNode(raw.Topology, raw.MemoryBudgetMiB))
        | errors -> Error errors
    | (None | Some false), Some url ->
        let urlErrors = match parseJoinUrl url with Ok _ -> [] | Error rule -> [ error "join" rule ]
        let cpuErrors =
            match cpus with
            | Some c when c > 0 -> [ error "cpus" (sprintf "only the boot node may contribute CPUs today; expected 0 on a memory node, found %d" c) ]
            | _ -> []
        let errors = urlErrors @ cpuErrors @ bootOnly "topology" raw.Topology.IsSome @ bootOnly "memoryBudgetMiB" raw.MemoryBudgetMiB.IsSome
        match errors, parseJoinUrl url with
        | [], Ok url -> Ok(MemoryNode url)
        | errors, _ -> Error errors

let private resultErrors (result: Result<'a, ConfigError list>) = match result with Error e -> e | Ok _ -> []

/// Every rule of docs/node-host.md's table, all broken ones reported, in the table's field order.
let validate (raw: RawNodeConfig) : Result<NodeConfig, ConfigError list> =
    let id =
        required "id" raw.Id (fun id -> if id < 0 then Error [ error "id" (sprintf "expected 0 or more, found %d" id) ] else Ok id)
    let transport = endpoint "transport" raw.Transport
    let http = endpoint "http" raw.Http
    let secret = secret raw.Secret
    let token = apiToken raw.ApiToken
    let cpus =
        required "cpus" raw.Cpus (fun c -> if c < 0 then Error [ error "cpus" (sprintf "expected 0 or more, found %d" c) ] else Ok c)
    let memory =
        required "memoryMiB" raw.MemoryMiB (fun m ->
            if m < 0L then Error [ error "memoryMiB" (sprintf "expected 0 or more, found %d" m) ]
            elif m = 0L && raw.Cpus = Some 0 then Error [ error "memoryMiB" "expected more than 0: a node without cpus contributes memory" ]
            else Ok m)
    let initiator =
        match raw.Initiator, raw.Cpus with
        | None, _ -> Ok None
        | Some i, Some c when c > 0 -> Error [ error "initiator" (sprintf "only a memory-only node (cpus 0) names an initiator; this one has %d cpus" c) ]
        | Some i, _ when i < 0 -> Error [ error "initiator" (sprintf "expected a node id (0 or more), found %d" i) ]
        | Some i, _ when Some i = raw.Id -> Error [ error "initiator" (sprintf "expected the id of a node with CPUs, found this node's own id %d" i) ]
        | Some i, _ -> Ok(Some i)
    let store =
        match raw.StoreMiB, memory with
        | Some s, Ok m when s < m -> Error [ error "storeMiB" (sprintf "expected at least memoryMiB (%d): the store holds the node's own memory first, found %d" m s) ]
        | Some s, _ -> Ok s
        | None, Ok m -> Ok m
        | None, Error _ -> Ok 0L // memoryMiB's own error is reported
    let role = role raw (match cpus with Ok c -> Some c | Error _ -> None)
    let timeoutScale =
        match raw.TimeoutScale with
        | None -> Ok 1
        | Some s when s >= 1 && s <= maximumTimeoutScale -> Ok s
        | Some s -> Error [ error "timeoutScale" (sprintf "expected a whole number from 1 to %d, found %d" maximumTimeoutScale s) ]
    match id, transport, http, secret, token, cpus, memory, store, initiator, role, timeoutScale with
    | Ok id, Ok transport, Ok http, Ok secret, Ok token, Ok cpus, Ok memory, Ok store, Ok initiator, Ok role, Ok timeoutScale ->
        Ok { Id = id; Transport = transport; Http = http; Secret = secret; ApiToken = token; Cpus = cpus
             MemoryMiB = memory; StoreMiB = store; Initiator = initiator; Role = role; TimeoutScale = timeoutScale }
    | _ ->
        Error(
            resultErrors id @ resultErrors transport @ resultErrors http @ resultErrors secret @ resultErrors token
            @ resultErrors cpus @ resultErrors memory @ resultErrors store @ resultErrors initiator @ resultErrors role
            @ resultErrors timeoutScale)

let isBoot (config: NodeConfig) = match config.Role with BootNode _ -> true | MemoryNode _ -> false

/// What this node brings to the cluster: its join request, or the boot node's own membership entry.
let nodeInfo (config: NodeConfig) : NodeInfo =
    { Id = config.Id; Cpus = config.Cpus; MemoryMiB = config.MemoryMiB; Address = string config.Transport
      Initiator = config.Initiator }

let errorText (e: ConfigError) = sprintf "%s: %s" e.Field e.Rule
