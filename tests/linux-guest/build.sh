#!/usr/bin/env bash
# Builds the Linux guest used by the QEMU/TCG harness (tests/LinuxGuest/) into <repo>/.guest-cache/:
#   vmlinuz, vmlinuz.version   Debian's current amd64 kernel (the one linux-image-amd64 depends on)
#   vmlinux                    the ELF kernel inside vmlinuz; it carries a PVH note, so QEMU can boot it
#                              directly and TCG skips the xz decompression (about 5 s of a 10 s boot)
#   initramfs.cpio.gz          busybox-static + tests/linux-guest/init.sh as /init
# Idempotent: a step whose output already exists is skipped.
# Host packages needed (Debian 12): apt, dpkg, busybox-static, cpio, gzip, xz-utils, qemu-system-x86;
# acpica-tools is optional (iasl, used only when inspecting dumped tables by hand).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
cache="$repo_root/.guest-cache"
mkdir -p "$cache"
scratch="$(mktemp -d "$cache/scratch.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

log() { echo "[linux-guest] $*"; }

require_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing host packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

# Prints the name of the versioned kernel package, e.g. linux-image-6.1.0-56-amd64.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

build_kernel() {
    if [[ -s "$cache/vmlinuz" && -s "$cache/vmlinuz.version" ]]; then
        log "kernel: cached ($(cat "$cache/vmlinuz.version"))"
        return
    fi
    local package
    package="$(kernel_package)"
    if [[ -z "$package" ]]; then
        log "kernel: apt-cache does not know linux-image-amd64, running apt-get update"
        apt-get update -qq
        package="$(kernel_package)"
    fi
    [[ -n "$package" ]] || { echo "cannot resolve the kernel package behind linux-image-amd64" >&2; exit 1; }

    local work="$scratch/kernel"
    mkdir -p "$work"
    log "kernel: downloading $package"
    # The package is unpacked, never installed: the host kernel must not change. Running as root, apt
    # would hand the download to its _apt sandbox user, which cannot write into the cache.
    (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package")
    dpkg -x "$work"/"$package"_*.deb "$work/root"
    local image
    image="$(find "$work/root/boot" -name 'vmlinuz-*' | head -n 1)"
    [[ -n "$image" ]] || { echo "no vmlinuz in $package" >&2; exit 1; }
    cp "$image" "$cache/vmlinuz.tmp"
    mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
    basename "$image" | sed 's/^vmlinuz-//' > "$cache/vmlinuz.version"
    log "kernel: $(cat "$cache/vmlinuz.version")"
}

# Reads an unsigned little-endian integer of <bytes> bytes at <offset> of <file>.
read_le() {
    od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' '
}

extract_vmlinux() {
    if [[ -s "$cache/vmlinux" && "$cache/vmlinux" -nt "$cache/vmlinuz" ]]; then
        log "vmlinux: cached"
        return
    fi
    # x86 boot protocol: the compressed payload starts payload_offset (0x248) bytes into the protected-mode
    # code, which follows the (setup_sects (0x1f1) + 1) * 512 bytes of real-mode setup.
    local image="$cache/vmlinuz"
    local setup_sects payload_offset payload_length start
    setup_sects="$(read_le "$image" $((0x1f1)) 1)"
    payload_offset="$(read_le "$image" $((0x248)) 4)"
    payload_length="$(read_le "$image" $((0x24c)) 4)"
    start=$(((setup_sects + 1) * 512 + payload_offset))
    local magic
    magic="$(od -An -tx1 -j "$start" -N 6 "$image" | tr -d ' ')"
    if [[ "$magic" != fd377a585a00 ]]; then
        echo "vmlinuz payload is not xz (magic $magic); extend extract_vmlinux in $0" >&2
        exit 1
    fi
    dd if="$image" of="$scratch/payload.xz" iflag=skip_bytes,count_bytes skip="$start" count="$payload_length" \
        bs=1M status=none
    # --single-stream: the kernel build appends the 4-byte uncompressed size after the xz stream.
    xz -dc --single-stream "$scratch/payload.xz" > "$cache/vmlinux.tmp"
    if [[ "$(od -An -tx1 -N4 "$cache/vmlinux.tmp" | tr -d ' ')" != 7f454c46 ]]; then
        echo "decompressed vmlinuz payload is not an ELF file" >&2
        exit 1
    fi
    mv "$cache/vmlinux.tmp" "$cache/vmlinux"
    log "vmlinux: extracted ($(stat -c %s "$cache/vmlinux") bytes)"
}

build_initramfs() {
    local output="$cache/initramfs.cpio.gz"
    # Rebuilt when init.sh changes, so editing the report format needs no manual cache cleanup.
    if [[ -s "$output" && "$output" -nt "$script_dir/init.sh" ]]; then
        log "initramfs: cached"
        return
    fi
    local busybox=/bin/busybox
    # A dynamic busybox would need its libraries in the initramfs too.
    if ldd "$busybox" >/dev/null 2>&1; then
        echo "$busybox is dynamically linked (install busybox-static)" >&2
        exit 1
    fi

    local work="$scratch/initramfs"
    mkdir -p "$work"/{bin,dev,proc,sys}
    cp "$busybox" "$work/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do
        [[ "$applet" == busybox ]] || ln -s busybox "$work/bin/$applet"
    done
    install -m 0755 "$script_dir/init.sh" "$work/init"
    # The kernel opens /dev/console before running /init; devtmpfs is mounted only afterwards.
    mknod -m 600 "$work/dev/console" c 5 1
    (cd "$work" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -9 > "$output.tmp"
    mv "$output.tmp" "$output"
    log "initramfs: built ($(stat -c %s "$output") bytes)"
}

require_packages busybox-static cpio xz-utils qemu-system-x86
build_kernel
extract_vmlinux
build_initramfs
log "ready in $cache"
