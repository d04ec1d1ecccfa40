#!/usr/bin/env bash
# Fetches the stock Linux guest kernel into <repo>/.guest-cache/ (shared by the demo and the test guests):
#   vmlinuz, vmlinuz.version   Debian's current amd64 kernel (the one linux-image-amd64 depends on), a bzImage
#   vmlinux                    the ELF kernel inside vmlinuz; it carries a PVH note, so a VMM can boot it
#                              directly and skip the xz decompression (about 5 s of a 10 s boot under TCG)
# Idempotent: a step whose output already exists is skipped. Needs apt, dpkg and xz-utils (Debian 12).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
cache="$repo_root/.guest-cache"
mkdir -p "$cache"
scratch="$(mktemp -d "$cache/scratch.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

log() { echo "[kernel] $*"; }

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

build_kernel
extract_vmlinux
