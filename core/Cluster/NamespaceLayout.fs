/// Names and addresses of the network namespaces `ssihv up --netns` puts its node hosts in (docs/node-host.md):
/// one namespace per node, one veth pair per node whose host end hangs on one bridge in the root namespace.
/// Every name carries the pid of the `up` process, so two runs (or a stale run that was killed) never clash,
/// and every link name fits the kernel's IFNAMSIZ (15 characters plus the NUL).
module SsiHv.Core.Cluster.NamespaceLayout

/// The longest interface name Linux accepts (IFNAMSIZ - 1).
let interfaceNameLimit = 15
/// Linux's largest possible pid (PID_MAX_LIMIT on 64-bit): 7 decimal digits.
let maxPid = 4194304
/// 10.213.0.1 .. 10.213.0.253 for nodes; .254 is the bridge.
let maxNodes = 253
let subnet = "10.213.0.0/24"
let prefixLength = 24
let bridgeAddress = "10.213.0.254"
/// The veth end inside each namespace; a namespace has its own link names, so one name serves every node.
let innerInterface = "eth0"

/// The address node number `index` (0-based, in node id order) has on its veth.
let nodeAddress (index: int) = "10.213.0." + string (index + 1)

type NamespaceNames =
    { /// Prefix of every name below: `ssihv<pid>`.
      Prefix: string
      Bridge: string
      /// Per node, in node order.
      Namespaces: string list
      /// Per node: the host end of its veth pair (on the bridge). The index is hexadecimal so that a 7-digit
      /// pid and node 252 still fit in 15 characters.
      HostInterfaces: string list }

let names (pid: int) (nodeCount: int) : Result<NamespaceNames, string> =
    if pid <= 0 || pid > maxPid then
        Error("pid " + string pid + ": expected 1.." + string maxPid)
    elif nodeCount < 1 || nodeCount > maxNodes then
        Error(string nodeCount + " nodes: a --netns cluster has 1.." + string maxNodes + " nodes (one address each in " + subnet + ")")
    else
        let prefix = "ssihv" + string pid
        Ok { Prefix = prefix
             Bridge = prefix + "br"
             Namespaces = [ for i in 0 .. nodeCount - 1 -> prefix + "n" + string i ]
             HostInterfaces = [ for i in 0 .. nodeCount - 1 -> prefix + "v" + i.ToString("x") ] }
