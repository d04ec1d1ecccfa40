/// What `ssihv up` starts: one node configuration (docs/node-host.md) per topology node, decided from the
/// validated topology, the cluster secret and token, and how the node hosts are addressed. Pure: the shell
/// generates the secret, writes the files and starts the processes.
module SsiHv.Core.Cluster.ClusterPlan

open SsiHv.Core.Topology

/// How the node hosts of one machine reach each other.
type Addressing =
    /// Every node host on 127.0.0.0/8 at its topology `address`.
    | Loopback
    /// Node i in its own network namespace at 10.213.0.(i+1), the port of its topology `address`.
    | NetworkNamespaces
    /// Node i in its own lab machine (docs/lab.md) at 10.213.0.(i+1): the namespaces' address plan, each machine
    /// with its own kernel and network stack on a tap device of the same bridge.
    | LabMachines

/// The control port is the transport port plus this.
let httpPortOffset = 1000

/// Lab machines run at TCG speed: a page's round trip between two of them took over 2 s under load, so their
/// transports wait ten times longer before they call a request or a peer lost. Elsewhere the transport's own
/// timeouts hold (1).
let defaultTimeoutScale (addressing: Addressing) = if addressing = LabMachines then 10 else 1

type Endpoint =
    { Host: string
      Port: int }
    override this.ToString() = this.Host + ":" + string this.Port

/// One node host's configuration file, field for field as docs/node-host.md defines it.
type NodeConfig =
    { Id: NodeId
      Transport: Endpoint
      Http: Endpoint
      Secret: string
      ApiToken: string
      Cpus: int
      MemoryMiB: int64
      Initiator: NodeId option
      Boot: bool
      /// The boot node's control URL; None on the boot node.
      Join: string option
      /// Boot node only.
      Topology: string option
      /// Boot node only.
      MemoryBudgetMiB: int64 option
      /// Boot node only: where the files of the VM request are (ImagePath).
      ImageDirectory: string option
      /// Room for the whole guest on every node, so any node can take over a drained node's pages.
      StoreMiB: int64
      /// NodeConfig's timeoutScale, the input's for every node.
      TimeoutScale: int }

type PlanInput =
    { Topology: Topology
      /// Where the shell puts the copy of the topology file that the boot node reads.
      TopologyPath: string
      Secret: string
      ApiToken: string
      Addressing: Addressing
      /// None: half of the boot node's memory (so that remote nodes' pages are really paged).
      MemoryBudgetMiB: int64 option
      /// None: `defaultTimeoutScale` of the addressing.
      TimeoutScale: int option
      /// The boot node's imageDirectory: where the shell put the kernel and initrd it asks the cluster to boot.
      ImageDirectory: string option }

type ClusterPlan =
    { /// In node id order.
      Nodes: NodeConfig list
      BootNode: NodeId
      /// `http://host:port` of the boot node's control API.
      BootUrl: string }

/// A plan error: the input field (a topology path such as `nodes[1].address`, or an option) and the rule.
type PlanError = { Field: string; Message: string }

let minSecretHexDigits = 32
let minTokenLength = 16

let private err field message = { Field = field; Message = message }

let private isHexDigit (c: char) = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')

/// `a.b.c.d` with four decimal octets 0..255.
let private parseIPv4 (text: string) =
    let parts = text.Split '.'
    let octet (p: string) =
        if p.Length >= 1 && p.Length <= 3 && p |> Seq.forall System.Char.IsAsciiDigit then Some(int p) else None
    if parts.Length <> 4 then None
    else
        let octets = parts |> Array.map octet
        if octets |> Array.forall (fun o -> o.IsSome && o.Value <= 255) then Some(octets |> Array.map Option.get)
        else None

/// `IPv4:port` of a topology node, checked for `up`: the port must leave room for the control port.
let private parseAddress (addressing: Addressing) (path: string) (text: string option) : Result<Endpoint, PlanError> =
    match text with
    | None -> Error(err path "required by ssihv up: IPv4:port of the node's transport, e.g. 127.0.0.1:7100")
    | Some text ->
        let colon = text.LastIndexOf ':'
        let host, portText = if colon < 0 then text, "" else text.Substring(0, colon), text.Substring(colon + 1)
        let port =
            if portText.Length >= 1 && portText.Length <= 5 && portText |> Seq.forall System.Char.IsAsciiDigit then int portText
            else -1
        let maxPort = 65535 - httpPortOffset
        match parseIPv4 host with
        | None -> Error(err path ("expected IPv4:port, found \"" + text + "\""))
        | Some octets when addressing = Loopback && octets.[0] <> 127 ->
            Error(err path (host + " is not a loopback address; ssihv up runs every node on this machine: use 127.x.x.x, or --netns"))
        | Some _ when port < 1 || port > maxPort ->
            Error(err path ("port must be 1.." + string maxPort + " (the control API listens on port + " + string httpPortOffset + "), found \"" + portText + "\""))
        | Some _ -> Ok { Host = host; Port = port }

let private checkCredentials (input: PlanInput) =
    [ if input.Secret.Length < minSecretHexDigits || not (input.Secret |> Seq.forall isHexDigit) then
          err "secret" ("expected at least " + string minSecretHexDigits + " hex digits")
      if input.ApiToken.Length < minTokenLength then
          err "apiToken" ("expected at least " + string minTokenLength + " characters, found " + string input.ApiToken.Length)
      match input.MemoryBudgetMiB with
      | Some budget when budget < 1L -> err "--memory-budget" ("expected at least 1 MiB, found " + string budget + " MiB")
      | _ -> ()
      match input.TimeoutScale with
      | Some scale when scale < 1 || scale > SsiHv.Core.Cluster.NodeConfig.maximumTimeoutScale ->
          err "--timeout-scale" ("expected a whole number from 1 to " + string SsiHv.Core.Cluster.NodeConfig.maximumTimeoutScale + ", found " + string scale)
      | _ -> () ]

/// Every port a node host opens, with the field that asked for it: two equal ones on one address would not both bind.
let private portClashes (addressing: Addressing) (endpoints: (int * Endpoint) list) =
    let opened =
        endpoints
        |> List.collect (fun (index, transport) ->
            [ transport, "nodes[" + string index + "].address"
              { transport with Port = transport.Port + httpPortOffset }, "nodes[" + string index + "].address (+" + string httpPortOffset + " for HTTP)" ])
    // In namespaces every node has its own address; on loopback 127.0.0.1 and 127.0.0.2 still share nothing,
    // but a wildcard bind by a future node host would, so loopback ports must be distinct whatever the host.
    let key (e: Endpoint) = if addressing = Loopback then string e.Port else string e
    opened
    |> List.groupBy (fst >> key)
    |> List.filter (fun (_, uses) -> uses.Length > 1)
    |> List.map (fun (_, uses) ->
        let port = (fst uses.Head).Port
        err (snd uses.[1]) ("port " + string port + " is also used by " + snd uses.[0] + "; every transport port and transport port + " + string httpPortOffset + " must be distinct"))

let plan (input: PlanInput) : Result<ClusterPlan, PlanError list> =
    let nodes = input.Topology.Nodes |> List.sortBy (fun n -> n.Id)
    // Report paths by the node's position in the file, as the topology validator does.
    let fileIndex (node: Node) = input.Topology.Nodes |> List.findIndex (fun n -> n.Id = node.Id)
    let parsed =
        nodes |> List.map (fun n -> let i = fileIndex n in n, i, parseAddress input.Addressing ("nodes[" + string i + "].address") n.Address)
    let addresses = parsed |> List.choose (fun (n, i, r) -> match r with Ok e -> Some(n, i, e) | Error _ -> None)
    let addressErrors = parsed |> List.choose (fun (_, _, r) -> match r with Error e -> Some e | Ok _ -> None)
    let credentialErrors = checkCredentials input
    let noBoot = err "nodes" "no node has cpus > 0: the boot node runs the vCPUs"
    match credentialErrors, addressErrors with
    | [], [] ->
        // Every node parsed, so `addresses` holds them all, in id order: the boot node found among them comes
        // with its endpoint, which cannot be missing.
        let endpoints =
            addresses
            |> List.mapi (fun position (node, index, e) ->
                node, index, (if input.Addressing <> Loopback then { e with Host = NamespaceLayout.nodeAddress position } else e))
        match endpoints |> List.tryFind (fun (n, _, _) -> n.Cpus > 0) with
        | None -> Error [ noBoot ]
        | Some(boot, _, bootTransport) ->
            match portClashes input.Addressing (endpoints |> List.map (fun (_, index, e) -> index, e)) with
            | _ :: _ as clashes -> Error clashes
            | [] ->
                let endpoints = endpoints |> List.map (fun (node, _, e) -> node, e)
                let bootHttp = { bootTransport with Port = bootTransport.Port + httpPortOffset }
                let bootUrl = "http://" + string bootHttp
                let budget =
                    match input.MemoryBudgetMiB with
                    | Some b -> Some b
                    | None when boot.MemoryMiB >= 2L -> Some(boot.MemoryMiB / 2L)
                    | None -> None
                let config (node: Node, transport: Endpoint) =
                    let isBoot = node.Id = boot.Id
                    { Id = node.Id
                      Transport = transport
                      Http = { transport with Port = transport.Port + httpPortOffset }
                      Secret = input.Secret
                      ApiToken = input.ApiToken
                      Cpus = node.Cpus
                      MemoryMiB = node.MemoryMiB
                      Initiator = if node.Cpus = 0 then node.Initiator else None
                      Boot = isBoot
                      Join = if isBoot then None else Some bootUrl
                      Topology = if isBoot then Some input.TopologyPath else None
                      MemoryBudgetMiB = if isBoot then budget else None
                      ImageDirectory = if isBoot then input.ImageDirectory else None
                      StoreMiB = max node.MemoryMiB (Topology.totalMemoryMiB input.Topology)
                      TimeoutScale = input.TimeoutScale |> Option.defaultValue (defaultTimeoutScale input.Addressing) }
                Ok { Nodes = endpoints |> List.map config; BootNode = boot.Id; BootUrl = bootUrl }
    | _ ->
        let bootErrors = if nodes |> List.exists (fun n -> n.Cpus > 0) then [] else [ noBoot ]
        Error(credentialErrors @ bootErrors @ addressErrors)

let errorText (e: PlanError) = e.Field + ": " + e.Message
