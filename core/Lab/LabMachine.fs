/// A lab machine (docs/lab.md): one QEMU process under TCG with AMD-V emulated (`-cpu EPYC,+svm`), so that the
/// stock kernel inside loads kvm-amd and offers a real /dev/kvm on hosts that have none. This module is the pure
/// part: what a machine is, the QEMU command line and kernel command line that make it, and the protocol lines
/// the lab's /init prints on the console. Starting, watching and removing machines is the shell's (shell/Lab/).
module SsiHv.Core.Lab.LabMachine

/// TCG's threading: `Single` runs every vCPU of the machine on one host thread, `Multi` gives each its own.
/// Single is the default: with Multi, nested SVM plus userfaultfd under load panicked the lab kernel
/// ("corrupted stack end detected inside scheduler"), with Single it did not (docs/lab.md).
type TcgThreading =
    | Single
    | Multi

/// Where the machine's NIC leads.
type NicLink =
    /// A tap device on the host (made, bridged and removed by the shell): machines reach each other and the host.
    | Tap of name: string
    /// QEMU's user-mode network with restrict=on: packets reach nothing beyond the machine's own NIC. For a machine
    /// that needs an RDMA device of its own (soft RoCE needs a NIC), and sends no traffic anywhere.
    | Isolated

/// The machine's NIC and its address inside.
type Nic =
    { Link: NicLink
      Mac: string
      /// Address with prefix length, e.g. 10.213.0.1/24.
      Address: string
      /// Add a soft-RoCE device (rdma_rxe) on the NIC, so the verbs transport has a real RDMA device.
      Rxe: bool }

type MachineSpec =
    { Cpus: int
      MemoryMiB: int
      Threading: TcgThreading
      /// The ELF kernel (with a PVH note) and the lab initramfs.
      Kernel: string
      Initramfs: string
      /// The shell script /init runs as the command (inside, at the same path: the host's / is shared).
      Script: string
      /// Host directories shared writable at the same path inside (the rest of / is read-only with a
      /// throw-away overlay on top).
      WritableShares: string list
      /// Unix sockets on the host that receive the command's stdout and stderr (QEMU connects to them).
      StdoutSocket: string
      StderrSocket: string
      Nic: Nic option }

let minCpus = 1
let maxCpus = 16
/// Below this the kernel, the initramfs and a dotnet process do not fit.
let minMemoryMiB = 512
let maxMemoryMiB = 65536
/// x86's COMMAND_LINE_SIZE, less the NUL.
let maxKernelCommandLine = 2047
let hostRootTag = "hostroot"
let shareTag (index: int) = "share" + string index

/// The lab's /init prints these, each alone on a console line, prefixed by `protocolPrefix`.
let protocolPrefix = "SSIHV-LAB "

type ConsoleEvent =
    /// Modules loaded, the host's root mounted: the command starts now.
    | Ready
    /// The command ended with this exit code (the shell's $?: 128 + N when killed by signal N).
    | Exited of code: int
    /// /init could not prepare the machine; the command never ran.
    | SetupFailed of reason: string
    | Other of line: string

let parseConsoleLine (line: string) : ConsoleEvent =
    let trimmed = line.TrimEnd('\r')
    let at = trimmed.IndexOf protocolPrefix
    if at < 0 then
        Other trimmed
    else
        let message = trimmed.Substring(at + protocolPrefix.Length).Trim()
        match message.Split(' ', 2) with
        | [| "ready" |] -> Ready
        | [| "exit"; code |] ->
            match System.Int32.TryParse(code, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture) with
            | true, value when value <= 255 -> Exited value
            | _ -> Other trimmed
        | [| "failed"; reason |] -> SetupFailed reason
        | _ -> Other trimmed

/// Paths travel on the kernel command line (space-separated words) and in QEMU's comma-separated options.
let private pathProblem (what: string) (path: string) =
    if System.String.IsNullOrEmpty path || path.[0] <> '/' then Some(what + " " + path + ": expected an absolute path")
    elif path |> Seq.exists (fun c -> System.Char.IsWhiteSpace c || System.Char.IsControl c) then
        Some(what + " " + path + ": a lab machine cannot use a path with white space")
    else None

/// QEMU splits option values at commas; a literal comma is written twice.
let private qemuValue (text: string) = text.Replace(",", ",,")

let kernelCommandLine (spec: MachineSpec) =
    [ yield "console=ttyS0"
      yield "quiet"
      yield "panic=-1"
      yield "mitigations=off"
      yield "ssihv.script=" + spec.Script
      for i, path in List.indexed spec.WritableShares -> "ssihv." + shareTag i + "=" + path
      match spec.Nic with
      | Some nic ->
          yield "ssihv.ip=" + nic.Address
          if nic.Rxe then yield "ssihv.rxe=1"
      | None -> () ]
    |> String.concat " "

/// The problems with a spec, each naming the field and the rule; empty when QEMU may be started with it.
let validate (spec: MachineSpec) : string list =
    [ if spec.Cpus < minCpus || spec.Cpus > maxCpus then
          yield "cpus " + string spec.Cpus + ": expected " + string minCpus + ".." + string maxCpus
      if spec.MemoryMiB < minMemoryMiB || spec.MemoryMiB > maxMemoryMiB then
          yield "memory " + string spec.MemoryMiB + " MiB: expected " + string minMemoryMiB + ".." + string maxMemoryMiB + " MiB"
      yield! [ "kernel", spec.Kernel; "initramfs", spec.Initramfs; "script", spec.Script
               "stdout socket", spec.StdoutSocket; "stderr socket", spec.StderrSocket ]
             |> List.choose (fun (what, path) -> pathProblem what path)
      yield! spec.WritableShares |> List.choose (pathProblem "writable share")
      match spec.Nic with
      | Some { Link = Tap tap } when tap.Length = 0 || tap.Length > 15 || tap |> Seq.exists (fun c -> not (System.Char.IsLetterOrDigit c || c = '-' || c = '_')) ->
          yield "tap " + tap + ": expected 1..15 letters, digits, '-' or '_'"
      | _ -> ()
      let commandLine = kernelCommandLine spec
      if commandLine.Length > maxKernelCommandLine then
          yield "kernel command line: " + string commandLine.Length + " characters, more than the " + string maxKernelCommandLine + " x86 allows (shorter paths)" ]

/// The arguments after `qemu-system-x86_64`. The console (ttyS0) is QEMU's stdio; ttyS1 and ttyS2 carry the
/// command's stdout and stderr to the sockets, so that the command's bytes never mix with kernel messages.
let qemuArguments (spec: MachineSpec) : string list =
    let share (id: string) (path: string) (readOnly: bool) =
        let access = if readOnly then ",readonly=on" else ""
        [ "-fsdev"
          "local,id=" + id + ",path=" + qemuValue path + ",security_model=none,multidevs=remap" + access
          "-device"
          "virtio-9p-pci,fsdev=" + id + ",mount_tag=" + id ]
    [ yield! [ "-accel"; (match spec.Threading with Single -> "tcg,thread=single" | Multi -> "tcg,thread=multi") ]
      yield! [ "-cpu"; "EPYC,+svm"; "-smp"; string spec.Cpus; "-m"; string spec.MemoryMiB ]
      yield! [ "-nodefaults"; "-no-user-config"; "-display"; "none"; "-monitor"; "none"; "-no-reboot" ]
      yield! [ "-kernel"; spec.Kernel; "-initrd"; spec.Initramfs; "-append"; kernelCommandLine spec ]
      yield! [ "-chardev"; "stdio,id=console,signal=off"; "-serial"; "chardev:console" ]
      yield! [ "-chardev"; "socket,id=stdout,path=" + qemuValue spec.StdoutSocket; "-serial"; "chardev:stdout" ]
      yield! [ "-chardev"; "socket,id=stderr,path=" + qemuValue spec.StderrSocket; "-serial"; "chardev:stderr" ]
      yield! share hostRootTag "/" true
      for i, path in List.indexed spec.WritableShares do
          yield! share (shareTag i) path false
      match spec.Nic with
      | Some nic ->
          let backend =
              match nic.Link with
              | Tap tap -> "tap,id=net0,ifname=" + tap + ",script=no,downscript=no"
              | Isolated -> "user,id=net0,restrict=on"
          yield! [ "-netdev"; backend; "-device"; "virtio-net-pci,netdev=net0,mac=" + nic.Mac ]
      | None -> () ]

/// A NIC on the host's tap device `tap` with `address` (A.B.C.D/P) inside: its MAC is QEMU's prefix 52:54:00 and
/// the address's last three octets, so machines on one bridge never share one. Error when the address is no
/// IPv4 address with a prefix length.
let tapNic (tap: string) (address: string) (rxe: bool) : Result<Nic, string> =
    let octet (text: string) =
        match System.Int32.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture) with
        | true, value when value <= 255 -> Some value
        | _ -> None
    match address.Split('/') with
    | [| ip; prefix |] ->
        let octets = ip.Split('.') |> Array.choose octet
        match ip.Split('.').Length, octets, octet prefix with
        | 4, [| _; b; c; d |], Some length when length >= 1 && length <= 30 ->
            Ok { Link = Tap tap
                 Mac = "52:54:00:" + b.ToString("x2") + ":" + c.ToString("x2") + ":" + d.ToString("x2")
                 Address = address
                 Rxe = rxe }
        | _ -> Error("address " + address + ": expected an IPv4 address with a prefix length 1..30, e.g. 10.213.0.1/24")
    | _ -> Error("address " + address + ": expected an IPv4 address with a prefix length, e.g. 10.213.0.1/24")

/// The NIC of a machine that needs only its own soft-RoCE device (`ssihv lab exec --rdma`).
let isolatedRdmaNic = { Link = Isolated; Mac = "52:54:00:12:34:56"; Address = "10.0.2.15/24"; Rxe = true }
