module SsiHv.PropertyTests.Cluster.NodeConfigProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Cluster
open SsiHv.Core.Cluster.NodeConfig

let private config = { FsCheckConfig.defaultConfig with maxTest = 400 }

let private hexDigits = "0123456789abcdefABCDEF".ToCharArray()
let private tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".ToCharArray()

let private stringOf (chars: char[]) (length: int) =
    Gen.arrayOfLength length (Gen.elements chars) |> Gen.map System.String

let private port = Gen.choose (0, 65535)

let private validRaw: Gen<RawNodeConfig> =
    gen {
        let! id = Gen.choose (0, 8)
        let! transportPort = port
        let! httpPort = port
        let! secretBytes = Gen.choose (16, 32)
        let! secret = stringOf hexDigits (secretBytes * 2)
        let! tokenLength = Gen.choose (minimumApiTokenLength, 40)
        let! token = stringOf tokenChars tokenLength
        let! boot = Gen.elements [ true; false ]
        let! cpus = Gen.choose (1, 4)
        let! memory = Gen.choose (1, 4096) |> Gen.map int64
        let! bootMemory = Gen.elements [ 0L; memory ]
        let! topology = Gen.optionOf (Gen.constant "lab.json")
        let! budget = Gen.optionOf (Gen.choose (1, 1024) |> Gen.map int64)
        let! readAhead = Gen.optionOf (Gen.elements [ 0; 2; 16; SsiHv.Core.Paging.Pager.PagerConfig.MaximumReadAheadPages ])
        let! initiator = Gen.optionOf (Gen.constant (id + 1))
        let! bootFlagOnMemoryNode = Gen.elements [ None; Some false ]
        let! spareStore = Gen.optionOf (Gen.choose (0, 4096) |> Gen.map int64)
        let! timeoutScale = Gen.optionOf (Gen.choose (1, maximumTimeoutScale))
        let! imageDirectory = Gen.optionOf (Gen.elements [ "/"; "/srv/images"; "/var/lib/ssihv/images/" ])
        let! retention = Gen.optionOf (Gen.elements [ 1; 600; maximumMemberRetentionSeconds ])
        let common =
            { Id = Some id; Transport = Some(sprintf "127.0.0.1:%d" transportPort); Http = Some(sprintf "10.1.2.3:%d" httpPort)
              Secret = Some secret; ApiToken = Some token; Cpus = None; MemoryMiB = None; Initiator = None; Boot = None
              Join = None; Topology = None; MemoryBudgetMiB = None; ReadAheadPages = None; StoreMiB = None; TimeoutScale = timeoutScale
              ImageDirectory = None; MemberRetentionSeconds = None }
        return
            if boot then
                { common with Cpus = Some cpus; MemoryMiB = Some bootMemory; Boot = Some true; Topology = topology; MemoryBudgetMiB = budget
                              ReadAheadPages = readAhead; ImageDirectory = imageDirectory
                              MemberRetentionSeconds = retention
                              StoreMiB = spareStore |> Option.map ((+) bootMemory) }
            else
                { common with Cpus = Some 0; MemoryMiB = Some memory; Initiator = initiator; Boot = bootFlagOnMemoryNode
                              Join = Some "http://127.0.0.1:8100"; StoreMiB = spareStore |> Option.map ((+) memory) }
    }

/// One rule broken in a valid config, and the field the error must name.
let private broken: Gen<RawNodeConfig * string> =
    gen {
        let! raw = validRaw
        let isBoot = raw.Boot = Some true
        let! breakage =
            Gen.elements
                [ (fun (r: RawNodeConfig) -> { r with Id = Some -1 }), "id"
                  (fun (r: RawNodeConfig) -> { r with Id = None }), "id"
                  (fun (r: RawNodeConfig) -> { r with Transport = Some "localhost:7101" }), "transport"
                  (fun (r: RawNodeConfig) -> { r with Transport = Some "127.0.0.1" }), "transport"
                  (fun (r: RawNodeConfig) -> { r with Transport = Some "127.0.0.256:7101" }), "transport"
                  (fun (r: RawNodeConfig) -> { r with Http = Some "127.0.0.1:65536" }), "http"
                  (fun (r: RawNodeConfig) -> { r with Http = None }), "http"
                  (fun (r: RawNodeConfig) -> { r with Secret = Some "00112233" }), "secret"
                  (fun (r: RawNodeConfig) -> { r with Secret = Some(String.replicate 32 "g") }), "secret"
                  (fun (r: RawNodeConfig) -> { r with Secret = Some(String.replicate 33 "a") }), "secret"
                  (fun (r: RawNodeConfig) -> { r with ApiToken = Some "short" }), "apiToken"
                  (fun (r: RawNodeConfig) -> { r with ApiToken = Some "a token with spaces in it" }), "apiToken"
                  (fun (r: RawNodeConfig) -> { r with Cpus = Some -1 }), "cpus"
                  (fun (r: RawNodeConfig) -> { r with MemoryMiB = Some -5L }), "memoryMiB"
                  (fun (r: RawNodeConfig) -> { r with MemoryMiB = None }), "memoryMiB"
                  (fun (r: RawNodeConfig) -> { r with MemoryMiB = Some 64L; StoreMiB = Some 63L }), "storeMiB"
                  (fun (r: RawNodeConfig) -> { r with MemoryMiB = Some 64L; StoreMiB = Some 9_000_000_000_000L }), "storeMiB"
                  (fun (r: RawNodeConfig) -> { r with MemoryMiB = Some 1_000_000_000_000L }), "memoryMiB"
                  (fun (r: RawNodeConfig) -> { r with Initiator = Some -1; Cpus = Some 0; MemoryMiB = Some 64L; StoreMiB = None }), "initiator"
                  (fun (r: RawNodeConfig) -> { r with Initiator = r.Id; Cpus = Some 0; MemoryMiB = Some 64L; StoreMiB = None }), "initiator"
                  (fun (r: RawNodeConfig) -> { r with Boot = Some true; Join = Some "http://127.0.0.1:8100" }), "join"
                  (fun (r: RawNodeConfig) -> { r with Boot = None; Join = None }), "boot"
                  (fun (r: RawNodeConfig) -> { r with TimeoutScale = Some 0 }), "timeoutScale"
                  (fun (r: RawNodeConfig) -> { r with TimeoutScale = Some 101 }), "timeoutScale"
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with ReadAheadPages = Some 1 }), "readAheadPages"
                   else (fun (r: RawNodeConfig) -> { r with ReadAheadPages = Some 16 }), "readAheadPages")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with ReadAheadPages = Some(SsiHv.Core.Paging.Pager.PagerConfig.MaximumReadAheadPages + 1) }), "readAheadPages"
                   else (fun (r: RawNodeConfig) -> { r with ReadAheadPages = Some 0 }), "readAheadPages")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with Initiator = Some 7; Cpus = Some 2 }), "initiator"
                   else (fun (r: RawNodeConfig) -> { r with Join = Some "https://boot.example:8100" }), "join")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with MemoryBudgetMiB = Some 0L }), "memoryBudgetMiB"
                   else (fun (r: RawNodeConfig) -> { r with Topology = Some "lab.json" }), "topology")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with MemoryBudgetMiB = Some 9_000_000_000_000L }), "memoryBudgetMiB"
                   else (fun (r: RawNodeConfig) -> { r with Cpus = Some 100_000; Initiator = None }), "cpus")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with Topology = Some " " }), "topology"
                   else (fun (r: RawNodeConfig) -> { r with Cpus = Some 2; Initiator = None }), "cpus")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with Cpus = None }), "cpus"
                   else (fun (r: RawNodeConfig) -> { r with MemoryBudgetMiB = Some 64L }), "memoryBudgetMiB")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with ImageDirectory = Some "images" }), "imageDirectory"
                   else (fun (r: RawNodeConfig) -> { r with ImageDirectory = Some "/srv/images" }), "imageDirectory")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with ImageDirectory = Some "/srv/\000images" }), "imageDirectory"
                   else (fun (r: RawNodeConfig) -> { r with ImageDirectory = Some "" }), "imageDirectory")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with MemberRetentionSeconds = Some 0 }), "memberRetentionSeconds"
                   else (fun (r: RawNodeConfig) -> { r with MemberRetentionSeconds = Some 600 }), "memberRetentionSeconds")
                  (if isBoot then (fun (r: RawNodeConfig) -> { r with MemberRetentionSeconds = Some(maximumMemberRetentionSeconds + 1) }), "memberRetentionSeconds"
                   else (fun (r: RawNodeConfig) -> { r with MemberRetentionSeconds = Some 0 }), "memberRetentionSeconds") ]
        let change, field = breakage
        return change raw, field
    }

let tests =
    testList "node config" [
        testPropertyWithConfig config "a valid config keeps every value it was given" <|
            Prop.forAll (Arb.fromGen validRaw) (fun raw ->
                match validate raw with
                | Error errors -> failwithf "%A refused: %A" raw errors
                | Ok c ->
                    Some c.Id.Value = raw.Id && Some(string c.Transport) = raw.Transport && Some(string c.Http) = raw.Http
                    && Some c.ApiToken = raw.ApiToken && Some c.Cpus = raw.Cpus && Some c.MemoryMiB = raw.MemoryMiB
                    && (c.Initiator |> Option.map (fun initiator -> initiator.Value)) = raw.Initiator
                    && (match c.Role with
                        | BootNode boot ->
                            raw.Boot = Some true && boot.TopologyFile = raw.Topology && boot.MemoryBudgetMiB = raw.MemoryBudgetMiB
                            && boot.ReadAheadPages = (raw.ReadAheadPages |> Option.defaultValue 0)
                            && boot.ImageDirectory = raw.ImageDirectory
                            && boot.MemberRetention
                               = (raw.MemberRetentionSeconds |> Option.map (float >> System.TimeSpan.FromSeconds) |> Option.defaultValue Membership.defaultRetention)
                        | MemoryNode url -> Some url = raw.Join)
                    && (nodeInfo c).Address = raw.Transport.Value)

        testPropertyWithConfig config "one broken rule gives errors that name its field and no other" <|
            Prop.forAll (Arb.fromGen broken) (fun (raw, field) ->
                match validate raw with
                | Ok _ -> failwithf "%A with %s broken was accepted" raw field
                | Error errors ->
                    if errors |> List.forall (fun e -> e.Field = field) then true
                    else failwithf "expected errors about %s only, found %A" field errors)

        testPropertyWithConfig config "any record at all is accepted or refused with errors naming documented fields, never an exception" <|
            fun (raw: RawNodeConfig) ->
                let fields = set [ "id"; "transport"; "http"; "secret"; "apiToken"; "cpus"; "memoryMiB"; "initiator"; "boot"; "join"; "topology"; "memoryBudgetMiB"; "readAheadPages"; "imageDirectory"; "memberRetentionSeconds"; "storeMiB"; "timeoutScale" ]
                match validate raw with
                | Ok _ -> true
                | Error errors -> not errors.IsEmpty && errors |> List.forall (fun e -> fields.Contains e.Field && e.Rule <> "")

        testPropertyWithConfig config "endpoints round-trip through their text" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.arrayOfLength 4 (Gen.choose (0, 255))) port)) (fun (octets, port) ->
                let text = sprintf "%d.%d.%d.%d:%d" octets.[0] octets.[1] octets.[2] octets.[3] port
                Endpoint.parse text = Ok { Address = text.Substring(0, text.LastIndexOf ':'); Port = port }
                && parseJoinUrl (sprintf "http://%s/" text) = (if port = 0 then Error(sprintf "expected the boot node's control URL, http://IPv4:port, found \"http://%s/\"" text) else Ok("http://" + text)))

        test "every broken rule is reported at once, each with its rule" {
            let raw =
                { Id = Some -1; Transport = Some "127.0.0.1:7101"; Http = Some "nowhere"; Secret = Some "00112233"
                  ApiToken = Some "a-long-random-token"; Cpus = Some 0; MemoryMiB = Some 1024L; Initiator = None; Boot = None
                  Join = Some "http://127.0.0.1:8100"; Topology = None; MemoryBudgetMiB = None; ReadAheadPages = None
                  StoreMiB = None; TimeoutScale = None; ImageDirectory = None; MemberRetentionSeconds = None }
            match validate raw with
            | Ok _ -> failtest "accepted"
            | Error errors ->
                Expect.equal (errors |> List.map errorText)
                    [ "id: expected 0 or more, found -1"
                      "http: expected IPv4:port such as 127.0.0.1:7101, found \"nowhere\""
                      "secret: expected at least 32 hex digits, found 8" ] "all three, in field order"
        }
    ]
