/// The node configuration of `ssihv node --config FILE` (docs/node-host.md): the raw record the shell reads from
/// JSON, every rule of the documented table, and the typed configuration a node host runs with. Every broken
/// rule is reported at once, each naming its field, so one edit of the file can fix them all. What the node
/// contributes (id, cpus, memoryMiB, transport, initiator) is judged by NodeInfo.validate, as a join is.
module SsiHv.Core.Cluster.NodeConfig

open System
open SsiHv.Core.Paging
open SsiHv.Core.Topology
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
      ReadAheadPages: int option
      StoreMiB: int64 option
      TimeoutScale: int option
      ImageDirectory: string option
      MemberRetentionSeconds: int option }

/// What only the boot node is configured with.
type BootSettings =
    { /// Describes the assembled VM's distances, HMAT and caches.
      TopologyFile: string option
      MemoryBudgetMiB: int64 option
      /// The pager's read-ahead block (docs/pager.md, "Read-ahead"; 0: off).
      ReadAheadPages: int
      /// The one directory whose files POST /v1/vm may name as kernel and initrd (ImagePath); None: no file.
      ImageDirectory: string option
      /// How long a Left or Lost member stays listed before it is pruned (Membership).
      MemberRetention: TimeSpan }

type NodeRole =
    /// Runs the membership and the VM.
    | BootNode of BootSettings
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
/// A week: the view of a cluster whose nodes come and go must stay small.
let maximumMemberRetentionSeconds = 7 * 24 * 3600
let minimumSecretHexDigits = ClusterSecret.minimumLength * 2

let private error field rule = { Field = field; Rule = rule }

let private required field (value: 'a option) check =
    match value with
    | None -> Error [ error field "required" ]
    | Some v -> check v

let private endpoint field (value: string option) =
    required field value (fun text -> Endpoint.parse text |> Result.mapError (fun rule -> [ error field rule ]))

let private secret (value: string option) =
    required "secret" value (fun text ->
        let isHex = text |> Seq.forall Char.IsAsciiHexDigit
        if not isHex then
            Error [ error "secret" "expected hex digits (0-9, a-f) only" ]
        elif text.Length < minimumSecretHexDigits then
            Error [ error "secret" ("expected at least " + string minimumSecretHexDigits + " hex digits, found " + string text.Length) ]
        elif text.Length % 2 <> 0 then
            Error [ error "secret" ("expected an even number of hex digits (whole bytes), found " + string text.Length) ]
        else
            ClusterSecret.tryCreate (Convert.FromHexString text) |> Result.mapError (fun rule -> [ error "secret" rule ]))

let private apiToken (value: string option) =
    required "apiToken" value (fun token ->
        if token.Length < minimumApiTokenLength then
            Error [ error "apiToken" ("expected at least " + string minimumApiTokenLength + " characters, found " + string token.Length) ]
        elif token |> Seq.exists (fun c -> Char.IsWhiteSpace c || Char.IsControl c) then
            Error [ error "apiToken" "expected no spaces or control characters (it travels in an Authorization header)" ]
        else Ok token)

/// An absolute http URL with an IPv4 host and a port, e.g. http://127.0.0.1:8100.
let parseJoinUrl (text: string) : Result<string, string> =
    let expected = "expected the boot node's control URL, http://IPv4:port, found \"" + text + "\""
    let prefix = "http://"
    if text.StartsWith(prefix, StringComparison.Ordinal) then
        match Endpoint.parse (text.Substring(prefix.Length).TrimEnd '/') with
        | Ok endpoint when endpoint.Port > 0 -> Ok(prefix + string endpoint)
        | _ -> Error expected
    else Error expected

let private role (raw: RawNodeConfig) =
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
            | Some b when b <= 0L || b > Validation.maxTotalMemoryMiB ->
                [ error "memoryBudgetMiB" ("expected a number of MiB from 1 to " + string Validation.maxTotalMemoryMiB + ", found " + string b) ]
            | _ -> []
        let readAhead =
            match raw.ReadAheadPages |> Option.bind Pager.PagerConfig.readAheadProblem with
            | Some rule -> [ error "readAheadPages" rule ]
            | None -> []
        let imageDirectory =
            match raw.ImageDirectory with
            | Some path when path.Contains '\000' -> [ error "imageDirectory" "expected a directory path without NUL characters" ]
            | Some path when not (path.StartsWith '/') ->
                [ error "imageDirectory" ("expected an absolute directory path (starting with /), found \"" + path + "\"") ]
            | _ -> []
        let retention =
            match raw.MemberRetentionSeconds with
            | Some s when s < 1 || s > maximumMemberRetentionSeconds ->
                [ error "memberRetentionSeconds" ("expected a whole number of seconds from 1 to " + string maximumMemberRetentionSeconds + ", found " + string s) ]
            | _ -> []
        match topology @ budget @ readAhead @ imageDirectory @ retention with
        | [] ->
            Ok(BootNode
                { TopologyFile = raw.Topology
                  MemoryBudgetMiB = raw.MemoryBudgetMiB
                  ReadAheadPages = raw.ReadAheadPages |> Option.defaultValue Pager.PagerConfig.DefaultReadAheadPages
                  ImageDirectory = raw.ImageDirectory
                  MemberRetention =
                    raw.MemberRetentionSeconds
                    |> Option.map (fun s -> TimeSpan.FromSeconds(float s))
                    |> Option.defaultValue Membership.defaultRetention })
        | errors -> Error errors
    | (None | Some false), Some url ->
        let urlErrors = match parseJoinUrl url with Ok _ -> [] | Error rule -> [ error "join" rule ]
        let errors = urlErrors @ bootOnly "topology" raw.Topology.IsSome @ bootOnly "memoryBudgetMiB" raw.MemoryBudgetMiB.IsSome
                     @ bootOnly "readAheadPages" raw.ReadAheadPages.IsSome @ bootOnly "imageDirectory" raw.ImageDirectory.IsSome
                     @ bootOnly "memberRetentionSeconds" raw.MemberRetentionSeconds.IsSome
        match errors, parseJoinUrl url with
        | [], Ok url -> Ok(MemoryNode url)
        | errors, _ -> Error errors

/// Which node the file describes. With neither `boot` nor `join` (an error of its own) the boot node's rules
/// apply, which are the looser: a file meant for the boot node is not also told what a memory node may not do.
let private kindOf (raw: RawNodeConfig) =
    match raw.Boot, raw.Join with
    | (None | Some false), Some _ -> NodeKind.Memory
    | _ -> NodeKind.Boot

/// A broken rule of the contribution under the file's name for its field: the node's address is its `transport`.
let private inFile (e: NodeInfoError) =
    error (match e with InvalidAddress _ -> "transport" | _ -> NodeInfoError.field e) (NodeInfoError.rule e)

/// The node's contribution, judged once every field of it that is required is given.
let private contribution (raw: RawNodeConfig) =
    match raw.Id, raw.Cpus, raw.MemoryMiB, raw.Transport with
    | Some id, Some cpus, Some memory, Some transport ->
        let info: NodeInfo = { Id = NodeId id; Cpus = cpus; MemoryMiB = memory; Address = transport; Initiator = raw.Initiator |> Option.map NodeId }
        NodeInfo.validate (kindOf raw) info
        |> Result.mapError (List.map inFile)
    | id, cpus, memory, transport ->
        Error
            [ if id.IsNone then error "id" "required"
              if transport.IsNone then error "transport" "required"
              if cpus.IsNone then error "cpus" "required"
              if memory.IsNone then error "memoryMiB" "required" ]

/// The fields in the order of docs/node-host.md's table, the order errors are reported in.
let private tableOrder =
    [ "id"; "transport"; "http"; "secret"; "apiToken"; "cpus"; "memoryMiB"; "initiator"; "boot"; "join"; "topology"
      "memoryBudgetMiB"; "readAheadPages"; "imageDirectory"; "memberRetentionSeconds"; "storeMiB"; "timeoutScale" ]

let private resultErrors (result: Result<'a, ConfigError list>) = match result with Error e -> e | Ok _ -> []

/// Every rule of docs/node-host.md's table, all broken ones reported, in the table's field order.
let validate (raw: RawNodeConfig) : Result<NodeConfig, ConfigError list> =
    let contribution = contribution raw
    // Its errors are the contribution's, reported there once.
    let transport = match raw.Transport with Some text -> Endpoint.parse text | None -> Error "required"
    let http = endpoint "http" raw.Http
    let secret = secret raw.Secret
    let token = apiToken raw.ApiToken
    let store =
        match raw.StoreMiB, raw.MemoryMiB with
        // Measured against a valid memoryMiB only: a broken one is reported as such, once.
        | Some s, Some m when m >= 0L && m <= Validation.maxTotalMemoryMiB && s < m ->
            Error [ error "storeMiB" ("expected at least memoryMiB (" + string m + "): the store holds the node's own memory first, found " + string s) ]
        // It stores pages of one VM, which has no more memory than this.
        | Some s, _ when s > Validation.maxTotalMemoryMiB ->
            Error [ error "storeMiB" ("expected at most " + string Validation.maxTotalMemoryMiB + ", the most a VM has, found " + string s) ]
        | Some s, _ -> Ok s
        | None, Some m -> Ok m
        | None, None -> Ok 0L // memoryMiB's own error is reported
    let role = role raw
    let timeoutScale =
        match raw.TimeoutScale with
        | None -> Ok 1
        | Some s when s >= 1 && s <= maximumTimeoutScale -> Ok s
        | Some s -> Error [ error "timeoutScale" ("expected a whole number from 1 to " + string maximumTimeoutScale + ", found " + string s) ]
    match contribution, transport, http, secret, token, store, role, timeoutScale with
    | Ok info, Ok transport, Ok http, Ok secret, Ok token, Ok store, Ok role, Ok timeoutScale ->
        Ok { Id = info.Id; Transport = transport; Http = http; Secret = secret; ApiToken = token; Cpus = info.Cpus
             MemoryMiB = info.MemoryMiB; StoreMiB = store; Initiator = info.Initiator; Role = role; TimeoutScale = timeoutScale }
    | _ ->
        resultErrors contribution @ resultErrors http @ resultErrors secret @ resultErrors token @ resultErrors store
        @ resultErrors role @ resultErrors timeoutScale
        |> List.sortBy (fun e -> List.findIndex ((=) e.Field) tableOrder)
        |> Error

let isBoot (config: NodeConfig) = match config.Role with BootNode _ -> true | MemoryNode _ -> false

/// What this node brings to the cluster: its join request, or the boot node's own membership entry.
let nodeInfo (config: NodeConfig) : NodeInfo =
    { Id = config.Id; Cpus = config.Cpus; MemoryMiB = config.MemoryMiB; Address = string config.Transport
      Initiator = config.Initiator }

let errorText (e: ConfigError) = e.Field + ": " + e.Rule
