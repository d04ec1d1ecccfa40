/// What a lab machine boots (docs/lab.md): Debian's stock kernel (the package `linux-image-amd64` depends on,
/// unpacked, never installed) and an initramfs holding busybox, the lab's /init and the kernel modules the lab
/// needs with their dependency closure. This module decides the package, the modules and the archive's layout;
/// the shell downloads, unpacks and writes.
module SsiHv.Core.Lab.ImageLayout

/// What the lab needs from the kernel, by feature; KernelModules.loadOrder adds what they depend on.
let moduleRoots =
    [ // the host's / over virtio-9p, with a writable overlay on top
      "virtio_pci"; "9pnet_virtio"; "9p"; "overlay"
      // real KVM on the emulated AMD-V
      "kvm_amd"
      // the machine's NIC; veth and bridge for network namespaces inside (ssihv up --netns, its tests)
      "virtio_net"; "veth"; "bridge"
      // soft RoCE on the NIC; rxe asks the crypto API for "crc32" by name, which modules.dep cannot show
      "rdma_rxe"; "crc32_generic" ]

/// The versioned package behind the meta-package, from `apt-cache depends linux-image-amd64`
/// (a line "  Depends: linux-image-6.1.0-57-amd64").
let kernelPackage (aptCacheDepends: string) : Result<string, string> =
    aptCacheDepends.Split('\n')
    |> Array.map (fun line -> line.Trim().Split([| ' '; '\t' |], System.StringSplitOptions.RemoveEmptyEntries))
    |> Array.tryPick (function
        | [| "Depends:"; name |] when name.StartsWith "linux-image-" && name.Length > 12 && System.Char.IsDigit name.[12] -> Some name
        | _ -> None)
    |> function
        | Some name -> Ok name
        | None -> Error "apt-cache depends linux-image-amd64 names no linux-image-<version> package (run apt-get update)"

/// The kernel release a package installs modules for: linux-image-6.1.0-57-amd64 -> 6.1.0-57-amd64.
let kernelRelease (package: string) = package.Substring("linux-image-".Length)

/// Whether an ELF64 executable runs without a dynamic loader (no PT_INTERP program header): the initramfs has
/// no libraries, so its busybox must be the static one (busybox-static).
let isStaticExecutable (elf: byte[]) : bool =
    let u16 at = int (System.BitConverter.ToUInt16(elf, at))
    let u32 at = System.BitConverter.ToUInt32(elf, at)
    let u64 at = System.BitConverter.ToUInt64(elf, at)
    let ptInterp = 3u
    if elf.Length < 64 || elf.[0] <> 0x7Fuy || elf.[1] <> byte 'E' || elf.[2] <> byte 'L' || elf.[3] <> byte 'F' || elf.[4] <> 2uy then
        false
    else
        let headers = u64 0x20
        let size = u16 0x36
        let count = u16 0x3A
        size >= 56
        && headers + uint64 (size * count) <= uint64 elf.Length
        && Seq.forall (fun i -> u32 (int headers + i * size) <> ptInterp) (seq { 0 .. count - 1 })

/// Where /init finds the modules to load, one path (relative to /lib/modules) a line, in load order.
let moduleListPath = "/lab/modules.load"

/// The initramfs: busybox (its applets are linked by /init itself), /init, the modules in load order under
/// /lib/modules, the list of them, and /dev/console (the kernel opens it before /init runs).
let initramfs (busybox: byte[]) (init: string) (modules: (string * byte[]) list) : byte[] =
    let directoriesOf (path: string) =
        let parts = path.TrimStart('/').Split('/')
        [ for i in 1 .. parts.Length - 1 -> "/" + String.concat "/" parts.[0 .. i - 1] ]
    let modulePaths = modules |> List.map (fun (path, _) -> "/lib/modules/" + path)
    let directories =
        [ "/bin"; "/dev"; "/proc"; "/sys"; "/lab"; "/host"; "/rw"; "/root" ] @ (modulePaths |> List.collect directoriesOf)
        |> List.distinct
        |> List.sortBy (fun d -> d.Split('/').Length, d)
    Cpio.archive
        [ for directory in directories -> Cpio.Directory(directory, 0o755)
          yield Cpio.CharDevice("/dev/console", 0o600, 5, 1)
          yield Cpio.File("/bin/busybox", 0o755, busybox)
          yield Cpio.File("/init", 0o755, System.Text.Encoding.UTF8.GetBytes init)
          yield Cpio.File(moduleListPath, 0o644, System.Text.Encoding.UTF8.GetBytes(modules |> List.map (fun (p, _) -> p + "\n") |> String.concat ""))
          for path, bytes in modules -> Cpio.File("/lib/modules/" + path, 0o644, bytes) ]
