module SsiHv.PropertyTests.Lab.LabProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Lab

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// Text with the characters a shell treats specially, and any other non-NUL character.
let private texts =
    Gen.frequency [ 3, Gen.elements [ '\''; '\\'; ' '; '"'; '$'; '\n'; '='; '-'; '`' ]; 5, Gen.choose (1, 0x7FF) |> Gen.map char ]
    |> Gen.arrayOf
    |> Gen.map System.String

/// A random module graph as depmod writes it: module i may depend on modules j < i (so it is acyclic), and each
/// line lists the whole transitive closure of its dependencies, in a shuffled order.
let private moduleGraphs =
    gen {
        let! count = Gen.choose (1, 25)
        let! directDeps =
            Gen.collectToList (fun i -> if i = 0 then Gen.constant [] else Gen.subListOf [ 0 .. i - 1 ]) [ 0 .. count - 1 ]
        let direct = Array.ofList directDeps
        let rec closure i = direct.[i] @ (direct.[i] |> List.collect closure) |> List.distinct
        let path i = sprintf "kernel/drivers/m%d/mod-%d.ko" i i
        let! lines =
            Gen.collectToList (fun i -> Gen.shuffle (closure i |> List.map path) |> Gen.map (fun deps -> sprintf "%s: %s" (path i) (String.concat " " deps))) [ 0 .. count - 1 ]
        let! shuffledLines = Gen.shuffle lines
        let! roots = Gen.nonEmptyListOf (Gen.choose (0, count - 1))
        return count, closure, path, String.concat "\n" shuffledLines + "\n", roots
    }

let private orderOf modulesDep builtin roots =
    match KernelModules.parse modulesDep builtin with
    | Error e -> failwithf "parse failed: %s" e
    | Ok index -> KernelModules.loadOrder index roots

/// Reads a newc archive back: (name, mode, rdevmajor, rdevminor, data) per entry, checking magic and alignment.
let private readCpio (archive: byte[]) =
    let rec entries offset acc =
        let text = System.Text.Encoding.ASCII.GetString(archive, offset, 110)
        if not (text.StartsWith "070701") || offset % 4 <> 0 then failwithf "bad header at %d" offset
        let field i = System.Convert.ToInt32(text.Substring(6 + 8 * i, 8), 16)
        let nameSize = field 11
        let name = System.Text.Encoding.UTF8.GetString(archive, offset + 110, nameSize - 1)
        let dataStart = (offset + 110 + nameSize + 3) / 4 * 4
        let size = field 6
        let data = archive.[dataStart .. dataStart + size - 1]
        let next = (dataStart + size + 3) / 4 * 4
        if name = "TRAILER!!!" then (List.rev acc, next)
        else entries next ((name, field 1, field 9, field 10, data, field 0) :: acc)
    entries 0 []

/// The inverse of sh's single quoting, as sh itself reads it.
let private unquoteSh (text: string) =
    let builder = System.Text.StringBuilder()
    let mutable i = 0
    let mutable inQuotes = false
    while i < text.Length do
        match text.[i] with
        | '\'' -> inQuotes <- not inQuotes
        | '\\' when not inQuotes -> i <- i + 1; builder.Append text.[i] |> ignore
        | c when inQuotes -> builder.Append c |> ignore
        | c -> failwithf "unquoted character %c" c
        i <- i + 1
    if inQuotes then failwith "unterminated quote"
    builder.ToString()

let private spec shares nic : LabMachine.MachineSpec =
    { Cpus = 2
      MemoryMiB = 4096
      Threading = LabMachine.Single
      Kernel = "/lab/vmlinux"
      Initramfs = "/lab/initramfs.cpio"
      Script = "/tmp/ssihv-lab-x/command.sh"
      WritableShares = shares
      StdoutSocket = "/tmp/ssihv-lab-x/stdout.sock"
      StderrSocket = "/tmp/ssihv-lab-x/stderr.sock"
      Nic = nic }

let private directoryNames = Gen.elements [ "a"; "results"; "Test,Results"; "x-y_z"; "deep/er" ] |> Gen.map (sprintf "/work/%s")

let private elf (interp: bool) =
    let bytes = Array.zeroCreate<byte> (64 + 3 * 56)
    bytes.[0] <- 0x7Fuy; bytes.[1] <- byte 'E'; bytes.[2] <- byte 'L'; bytes.[3] <- byte 'F'; bytes.[4] <- 2uy
    System.BitConverter.GetBytes(64UL).CopyTo(bytes, 0x20)
    System.BitConverter.GetBytes(56us).CopyTo(bytes, 0x36)
    System.BitConverter.GetBytes(3us).CopyTo(bytes, 0x3A)
    for i in 0 .. 2 do System.BitConverter.GetBytes(if interp && i = 1 then 3u else 1u).CopyTo(bytes, 64 + i * 56)
    bytes

let tests =
    testList "lab" [
        testPropertyWithConfig config "module load order: the roots' whole closure, each once, every module after its dependencies" <|
            Prop.forAll (Arb.fromGen moduleGraphs) (fun (_, closure, path, modulesDep, roots) ->
                match orderOf modulesDep "" (roots |> List.map (fun r -> sprintf "mod_%d" r)) with
                | Error e -> failwithf "refused: %s" e
                | Ok order ->
                    let expected = roots |> List.collect (fun r -> r :: closure r) |> List.distinct |> List.map path |> Set.ofList
                    let position = order |> List.mapi (fun i p -> p, i) |> Map.ofList
                    List.distinct order = order
                    && Set.ofList order = expected
                    && [ 0 .. 24 ] |> List.forall (fun i ->
                        not (position.ContainsKey(path i)) || closure i |> List.forall (fun d -> position.[path d] < position.[path i])))

        testPropertyWithConfig config "a root the kernel lacks is an error naming it; a built-in root needs nothing loaded" <|
            Prop.forAll (Arb.fromGen moduleGraphs) (fun (count, _, _, modulesDep, _) ->
                let missing = orderOf modulesDep "" [ "mod-0"; sprintf "mod_%d" (count + 7) ]
                let builtin = orderOf modulesDep "kernel/lib/crc32.ko\nkernel/fs/nine-p.ko\n" [ "nine_p" ]
                (match missing with Error e -> e.Contains(sprintf "mod_%d" (count + 7)) | Ok _ -> false)
                && builtin = Ok [])

        test "modules.dep: '-' and '_' name the same module; a line without a colon is an error naming its number" {
            let dep = "kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko\nkernel/arch/x86/kvm/kvm.ko:\n"
            Expect.equal (orderOf dep "" [ "kvm_amd" ]) (Ok [ "kernel/arch/x86/kvm/kvm.ko"; "kernel/arch/x86/kvm/kvm-amd.ko" ]) "closure"
            match KernelModules.parse "a.ko:\nno colon here\n" "" with
            | Error e -> Expect.stringContains e "line 2" "names the line"
            | Ok _ -> failtest "accepted a broken line"
        }

        testPropertyWithConfig config "cpio: every entry reads back with its name, type, mode, device and bytes; unique inodes; aligned; trailer last" <|
            Prop.forAll (Arb.fromGen (Gen.nonEmptyListOf (Gen.zip (Gen.choose (0, 3)) (Gen.arrayOf (Gen.choose (0, 255) |> Gen.map byte))))) (fun specs ->
                let entries =
                    specs |> List.mapi (fun i (kind, bytes) ->
                        let name = sprintf "/d/e%d" i
                        match kind with
                        | 0 -> Cpio.File(name, 0o644, bytes)
                        | 1 -> Cpio.Directory(name, 0o755)
                        | 2 -> Cpio.Symlink(name, sprintf "target-%d" bytes.Length)
                        | _ -> Cpio.CharDevice(name, 0o600, 5, i))
                let archive = Cpio.archive entries
                let read, length = readCpio archive
                length = archive.Length
                && List.length read = List.length entries
                && (read |> List.map (fun (_, _, _, _, _, inode) -> inode) |> List.distinct |> List.length) = List.length entries
                && List.forall2 (fun entry (name, mode, major, minor, data: byte[], _) ->
                    name = (Cpio.pathOf entry).TrimStart('/')
                    && match entry with
                       | Cpio.File(_, m, bytes) -> mode = (0o100000 ||| m) && data = bytes
                       | Cpio.Directory(_, m) -> mode = (0o040000 ||| m) && data.Length = 0
                       | Cpio.Symlink(_, target) -> mode = 0o120777 && System.Text.Encoding.UTF8.GetString data = target
                       | Cpio.CharDevice(_, m, ma, mi) -> mode = (0o020000 ||| m) && major = ma && minor = mi) entries read)

        test "the initramfs holds busybox, /init, the module list in order and every module under /lib/modules" {
            let read, _ = readCpio (ImageLayout.initramfs [| 1uy |] "#!/bin/sh\n" [ "kernel/a/x.ko", [| 2uy |]; "kernel/b/y.ko", [| 3uy |] ])
            let names = read |> List.map (fun (n, _, _, _, _, _) -> n)
            let data name = read |> List.pick (fun (n, _, _, _, d, _) -> if n = name then Some d else None)
            Expect.equal (data "lab/modules.load") "kernel/a/x.ko\nkernel/b/y.ko\n"B "load list"
            Expect.equal (data "lib/modules/kernel/b/y.ko") [| 3uy |] "module"
            Expect.equal (data "init") "#!/bin/sh\n"B "init"
            Expect.isTrue (names |> List.contains "dev/console") "console device"
            // A directory must come before anything inside it, or the kernel cannot unpack the entry.
            names |> List.iteri (fun i n ->
                let parent = n.Substring(0, max 0 (n.LastIndexOf '/'))
                if parent <> "" then Expect.isLessThan (List.findIndex ((=) parent) names) i (sprintf "%s after its directory" n))
        }

        testPropertyWithConfig config "sh quoting: any word reads back as itself" <|
            Prop.forAll (Arb.fromGen texts) (fun w -> unquoteSh (CommandScript.quote w) = w)

        testPropertyWithConfig config "the command script: cd, then exports of valid names only (sorted), then exec of the command" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.listOf (Gen.zip (Gen.oneof [ texts; Gen.elements [ "PATH"; "_x1"; "PWD"; "A" ] ]) texts)) (Gen.nonEmptyListOf texts))) (fun (env, words) ->
                let expectedExports =
                    env
                    |> List.filter (fun (n, _) ->
                        System.Text.RegularExpressions.Regex.IsMatch(n, "^[A-Za-z_][A-Za-z0-9_]*\\z") && not (List.contains n [ "PWD"; "OLDPWD"; "SHLVL"; "_" ]))
                    |> List.sortBy fst
                    |> List.map (fun (n, v) -> sprintf "export %s=%s\n" n (CommandScript.quote v))
                CommandScript.render "/work/main" env words
                    = Ok("#!/bin/sh\ncd '/work/main' || exit 126\n" + String.concat "" expectedExports
                         + "exec " + (words |> List.map CommandScript.quote |> String.concat " ") + "\n"))

        test "a command script with no command, or a NUL in a word, is refused" {
            Expect.isError (CommandScript.render "/" [] []) "no command"
            Expect.isError (CommandScript.render "/" [] [ "a\000b" ]) "NUL"
        }

        testPropertyWithConfig config "console protocol: ready, exit codes 0..255 and setup failures are recognised, other lines are not" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (0, 255)) texts)) (fun (code, noise) ->
                let other = noise.Replace(LabMachine.protocolPrefix, "").Replace("\r", "").Replace("\n", "")
                LabMachine.parseConsoleLine "SSIHV-LAB ready\r" = LabMachine.Ready
                && LabMachine.parseConsoleLine (sprintf "SSIHV-LAB exit %d" code) = LabMachine.Exited(int code)
                && LabMachine.parseConsoleLine "SSIHV-LAB failed insmod kvm" = LabMachine.SetupFailed "insmod kvm"
                && LabMachine.parseConsoleLine "SSIHV-LAB exit 256" = LabMachine.Other "SSIHV-LAB exit 256"
                && LabMachine.parseConsoleLine other = LabMachine.Other other)

        testPropertyWithConfig config "QEMU arguments: three serial ports, the host's / read-only, each writable share at its index, the NIC" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.listOf directoryNames |> Gen.map List.distinct) (Gen.elements [ true; false ]))) (fun (shares, withNic) ->
                let nic = if withNic then Some({ Link = LabMachine.Tap "ssihvtap0"; Mac = "52:54:00:00:00:01"; Address = "10.213.0.1/24"; Rxe = true } : LabMachine.Nic) else None
                let s = spec shares nic
                let args = LabMachine.qemuArguments s
                let values flag = args |> List.pairwise |> List.filter (fun (a, _) -> a = flag) |> List.map snd
                let fsdevs = values "-fsdev"
                let commandLine = LabMachine.kernelCommandLine s
                LabMachine.validate s = []
                && values "-serial" = [ "chardev:console"; "chardev:stdout"; "chardev:stderr" ]
                && fsdevs.Head.Contains "path=/," && fsdevs.Head.EndsWith "readonly=on"
                && fsdevs.Tail.Length = shares.Length
                && List.forall2 (fun (f: string) (p: string) -> f.Contains("path=" + p.Replace(",", ",,") + ",") && not (f.Contains "readonly")) fsdevs.Tail shares
                && shares |> List.mapi (fun i p -> commandLine.Contains(sprintf "ssihv.share%d=%s" i p)) |> List.forall id
                && values "-netdev" = (if withNic then [ "tap,id=net0,ifname=ssihvtap0,script=no,downscript=no" ] else [])
                && (LabMachine.qemuArguments { s with Nic = Some LabMachine.isolatedRdmaNic } |> List.contains "user,id=net0,restrict=on")
                && commandLine.Contains "ssihv.rxe=1" = withNic)

        test "a machine spec with a bad size, a relative path, white space or a long tap name names each problem" {
            let bad =
                { spec [ "/with space" ] (Some({ Link = LabMachine.Tap "a-tap-name-too-long"; Mac = "52:54:00:00:00:01"; Address = "10.213.0.1/24"; Rxe = false } : LabMachine.Nic)) with
                    Cpus = 0; MemoryMiB = 100; Kernel = "vmlinux" }
            let problems = LabMachine.validate bad
            for expected in [ "cpus 0"; "memory 100 MiB"; "kernel vmlinux: expected an absolute path"; "writable share /with space"; "tap a-tap-name-too-long" ] do
                Expect.exists problems (fun p -> p.StartsWith expected) expected
        }

        testPropertyWithConfig config "a tap NIC's MAC is distinct for distinct addresses on one subnet; bad addresses are refused" <|
            Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 254)) (Gen.choose (1, 254)))) (fun (a, b) ->
                let nic host = LabMachine.tapNic "t" (sprintf "10.213.0.%d/24" host) true
                match nic a, nic b with
                | Ok x, Ok y ->
                    (x.Mac = y.Mac) = (a = b) && x.Mac.StartsWith "52:54:00:" && x.Link = LabMachine.Tap "t" && x.Rxe
                    && [ "10.213.0.1"; "10.213.0.1/33"; "fe80::1/64"; "x/24" ] |> List.forall (fun bad -> Result.isError (LabMachine.tapNic "t" bad false))
                | _ -> false)

        testPropertyWithConfig config "lab machines for node hosts: two CPUs for the boot node, one otherwise; memory covers the node and its store within the limits" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.elements [ true; false ]) (Gen.choose (1, 100000)) (Gen.choose (1, 100000)))) (fun (boot, memory, store) ->
                let size = LabSizing.forNode boot (int64 memory) (int64 store)
                size.Cpus = (if boot then 2 else 1)
                && size.MemoryMiB >= 2048 && size.MemoryMiB <= LabMachine.maxMemoryMiB
                && (size.MemoryMiB = LabMachine.maxMemoryMiB || size.MemoryMiB >= memory + store + 1536))

        test "the kernel package comes from apt-cache depends; its release names the modules directory" {
            let output = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n  Recommends: firmware\n"
            Expect.equal (ImageLayout.kernelPackage output) (Ok "linux-image-6.1.0-57-amd64") "package"
            Expect.isError (ImageLayout.kernelPackage "linux-image-amd64\n  Depends: linux-headers\n") "no package"
            Expect.equal (ImageLayout.kernelRelease "linux-image-6.1.0-57-amd64") "6.1.0-57-amd64" "release"
        }

        test "only an ELF64 without PT_INTERP counts as static" {
            Expect.isTrue (ImageLayout.isStaticExecutable (elf false)) "static"
            Expect.isFalse (ImageLayout.isStaticExecutable (elf true)) "dynamic"
            Expect.isFalse (ImageLayout.isStaticExecutable [| 0x7Fuy; 0uy |]) "truncated"
        }
    ]
