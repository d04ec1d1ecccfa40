module SsiHv.PropertyTests.Cluster.ClusterPlanProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Topology
open SsiHv.Core.Cluster
open SsiHv.Core.Cluster.ClusterPlan
open SsiHv.PropertyTests.Topology

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private validated spec =
    match Validation.validate spec with
    | Ok t -> t
    | Error e -> failwithf "generator made an invalid topology: %A" e

/// Valid topologies whose nodes sit on distinct, plan-able loopback ports anywhere in the port range.
let private topologies =
    gen {
        let! spec = TopologyGenerators.validSpec
        let count = spec.Nodes.Value.Length
        let! basePort = Gen.choose (1, 65535 - ClusterPlan.httpPortOffset - 2 * count)
        let! host = Gen.elements [ "127.0.0.1"; "127.0.0.2"; "127.10.20.30" ]
        let nodes =
            spec.Nodes.Value
            |> List.map (fun n -> { n with Address = Some(sprintf "%s:%d" host (basePort + 2 * n.Id.Value)) })
        return validated { spec with Nodes = Some nodes }
    }

let private input addressing topology =
    { Topology = topology; TopologyPath = "/tmp/up/topology.json"; Secret = String.replicate 32 "a"
      ApiToken = "token-of-sixteen-chars"; Addressing = addressing; MemoryBudgetMiB = None; TimeoutScale = None
      ImageDirectory = Some "/tmp/up/images" }

let private planned addressing topology =
    match plan (input addressing topology) with
    | Ok p -> p
    | Error e -> failwithf "plan refused a valid topology: %A" e

let private addressings = Gen.elements [ Loopback; NetworkNamespaces; LabMachines ]

let private forAll (property: Topology -> Addressing -> bool) =
    Prop.forAll (Arb.fromGen (Gen.zip topologies addressings)) (fun (t, a) -> property t a)

let private errorFields result =
    match result with
    | Ok _ -> []
    | Error errors -> errors |> List.map (fun e -> e.Field)

let tests =
    testList "cluster plan" [
        testPropertyWithConfig config "one config per topology node, in id order" <| forAll (fun t a ->
            let p = planned a t
            (p.Nodes |> List.map (fun n -> n.Id)) = (t.Nodes |> List.map (fun n -> n.Id) |> List.sort)
            && p.Nodes |> List.forall (fun c ->
                let n = t.Nodes |> List.find (fun n -> n.Id = c.Id)
                c.Cpus = n.Cpus && c.MemoryMiB = n.MemoryMiB))

        testPropertyWithConfig config "exactly one boot node: the lowest id with cpus, the only one with topology, budget and image directory" <| forAll (fun t a ->
            let p = planned a t
            let boots = p.Nodes |> List.filter (fun c -> c.Boot)
            let firstWithCpus = t.Nodes |> List.filter (fun n -> n.Cpus > 0) |> List.map (fun n -> n.Id) |> List.min
            boots.Length = 1 && boots.Head.Id = firstWithCpus && p.BootNode = firstWithCpus
            && boots.Head.Topology = Some "/tmp/up/topology.json" && boots.Head.ImageDirectory = Some "/tmp/up/images"
            && p.Nodes |> List.forall (fun c -> c.Boot || (c.Topology.IsNone && c.MemoryBudgetMiB.IsNone && c.ImageDirectory.IsNone)))

        testPropertyWithConfig config "every other node joins the boot node's control URL" <| forAll (fun t a ->
            let p = planned a t
            let boot = p.Nodes |> List.find (fun c -> c.Boot)
            p.BootUrl = sprintf "http://%s:%d" boot.Http.Host boot.Http.Port
            && boot.Join.IsNone
            && p.Nodes |> List.forall (fun c -> c.Boot || c.Join = Some p.BootUrl))

        testPropertyWithConfig config "endpoints are unique and ports valid, HTTP = transport + 1000" <| forAll (fun t a ->
            let p = planned a t
            let endpoints = p.Nodes |> List.collect (fun c -> [ c.Transport; c.Http ])
            List.distinct endpoints = endpoints
            && endpoints |> List.forall (fun e -> e.Port >= 1 && e.Port <= 65535)
            && p.Nodes |> List.forall (fun c -> c.Http.Host = c.Transport.Host && c.Http.Port = c.Transport.Port + httpPortOffset))

        testPropertyWithConfig config "loopback keeps topology addresses; namespaces and lab machines give node i 10.213.0.(i+1), same port" <| forAll (fun t a ->
            let p = planned a t
            p.Nodes |> List.forall (fun c ->
                let address = (t.Nodes |> List.find (fun n -> n.Id = c.Id)).Address.Value
                match a with
                | Loopback -> string c.Transport = address
                | NetworkNamespaces | LabMachines ->
                    c.Transport.Host = sprintf "10.213.0.%d" (c.Id.Value + 1) && address.EndsWith(sprintf ":%d" c.Transport.Port)))

        testPropertyWithConfig config "default memory budget is half the boot node's memory; a given one is kept" <| forAll (fun t a ->
            let boot = (planned a t).Nodes |> List.find (fun c -> c.Boot)
            let given = plan { input a t with MemoryBudgetMiB = Some 77L }
            let expected = if boot.MemoryMiB >= 2L then Some(boot.MemoryMiB / 2L) else None
            boot.MemoryBudgetMiB = expected
            && (match given with
                | Ok p -> (p.Nodes |> List.find (fun c -> c.Boot)).MemoryBudgetMiB = Some 77L
                | Error _ -> false))

        testPropertyWithConfig config "every node's page store has room for the whole guest, so any node can take a drained one's pages" <| forAll (fun t a ->
            let total = t.Nodes |> List.sumBy (fun n -> n.MemoryMiB)
            (planned a t).Nodes |> List.forall (fun c -> c.StoreMiB = total && c.StoreMiB >= c.MemoryMiB))

        testPropertyWithConfig config "transports wait 10 times longer in lab machines, as long as given, else as their defaults; 0 and 101 are refused" <| forAll (fun t a ->
            let scales input = match plan input with Ok p -> p.Nodes |> List.map (fun c -> c.TimeoutScale) |> List.distinct | Error _ -> []
            scales (input a t) = [ (if a = LabMachines then 10 else 1) ]
            && scales { input a t with TimeoutScale = Some 7 } = [ 7 ]
            && errorFields (plan { input a t with TimeoutScale = Some 0 }) = [ "--timeout-scale" ]
            && errorFields (plan { input a t with TimeoutScale = Some 101 }) = [ "--timeout-scale" ])

        testPropertyWithConfig config "secret and token reach every node unchanged" <| forAll (fun t a ->
            (planned a t).Nodes |> List.forall (fun c -> c.Secret = String.replicate 32 "a" && c.ApiToken = "token-of-sixteen-chars"))

        testPropertyWithConfig config "a port without room for the control port is refused, naming the node's address" <| forAll (fun t a ->
            let victim = t.Nodes |> List.last
            let index = t.Nodes.Length - 1
            let broken = { t with Nodes = t.Nodes |> List.map (fun n -> if n.Id = victim.Id then { n with Address = Some "127.0.0.1:65000" } else n) }
            errorFields (plan (input a broken)) = [ sprintf "nodes[%d].address" index ])

        testPropertyWithConfig config "equal ports clash on loopback, naming the second user; namespaces separate them" <| forAll (fun t a ->
            t.Nodes.Length < 2
            || (let first = t.Nodes.[0].Address.Value
                let broken = { t with Nodes = t.Nodes |> List.mapi (fun i n -> if i = 1 then { n with Address = Some first } else n) }
                match a, plan (input a broken) with
                | Loopback, Error errors -> errors |> List.exists (fun e -> e.Field.StartsWith "nodes[1].address")
                | (NetworkNamespaces | LabMachines), Ok _ -> true
                | _ -> false))

        testPropertyWithConfig config "non-loopback addresses are refused on loopback only" <| forAll (fun t a ->
            let moved = { t with Nodes = t.Nodes |> List.map (fun n -> { n with Address = n.Address |> Option.map (fun s -> s.Replace("127.", "192.")) }) }
            match a, plan (input a moved) with
            | Loopback, Error errors -> errors.Length = t.Nodes.Length && errors |> List.forall (fun e -> e.Field.EndsWith ".address")
            | (NetworkNamespaces | LabMachines), Ok _ -> true
            | _ -> false)

        testCase "a missing address, a short secret and a short token are each named" <| fun () ->
            let t = validated { (Gen.sampleWithSeed (Rnd(1UL, 1UL)) 1 1 TopologyGenerators.validSpec).[0] with Name = Some "x" }
            let noAddress = { t with Nodes = t.Nodes |> List.map (fun n -> { n with Address = None }) }
            let fields = errorFields (plan { input Loopback noAddress with Secret = "abcd"; ApiToken = "short" })
            Expect.containsAll fields [ "secret"; "apiToken"; "nodes[0].address" ] "fields named"

        testPropertyWithConfig config "namespace names fit IFNAMSIZ, are distinct and carry the pid" <| Prop.forAll
            (Arb.fromGen (Gen.zip (Gen.choose (1, NamespaceLayout.maxPid)) (Gen.choose (1, NamespaceLayout.maxNodes))))
            (fun (pid, count) ->
                match NamespaceLayout.names pid count with
                | Error _ -> false
                | Ok names ->
                    let links = names.Bridge :: names.HostInterfaces
                    let all = links @ names.Namespaces
                    links |> List.forall (fun l -> l.Length <= NamespaceLayout.interfaceNameLimit)
                    && List.distinct all = all
                    && all |> List.forall (fun n -> n.StartsWith(sprintf "ssihv%d" pid))
                    && names.Namespaces.Length = count && names.HostInterfaces.Length = count)

        testCase "namespace names at the limits" <| fun () ->
            let longest = NamespaceLayout.names NamespaceLayout.maxPid NamespaceLayout.maxNodes
            Expect.isOk longest "largest pid and node count"
            Expect.isError (NamespaceLayout.names 1 (NamespaceLayout.maxNodes + 1)) "one node too many"
            Expect.isError (NamespaceLayout.names 0 1) "pid 0"
    ]
