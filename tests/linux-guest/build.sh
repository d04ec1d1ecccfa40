#!/usr/bin/env bash
# Builds the Linux guest used by the QEMU/TCG harness (tests/LinuxGuest/) into <repo>/.guest-cache/:
#   vmlinuz, vmlinux           Debian's stock kernel (guests/debian-kernel.sh)
#   initramfs.cpio.gz          busybox-static + tests/linux-guest/init.sh as /init
#   numa-memtest.cpio.gz       the NUMA memtest guest (guests/linux-numa-memtest), which the `up --lab` and
#                              `bench boot` tests boot
# Idempotent: a step whose output already exists is skipped.
# Host packages needed (Debian 12): apt, dpkg, busybox-static, cpio, gzip, xz-utils, qemu-system-x86;
# acpica-tools is optional (iasl, used only when inspecting dumped tables by hand).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
cache="$repo_root/.guest-cache"
mkdir -p "$cache"

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

build_initramfs() {
    local output="$cache/initramfs.cpio.gz"
    # Rebuilt when init.sh changes, so editing the report format needs no manual cache cleanup.
    if [[ -s "$output" && "$output" -nt "$script_dir/init.sh" ]]; then
        log "initramfs: cached"
        return
    fi
    bash "$repo_root/guests/busybox-initramfs.sh" "$script_dir/init.sh" "$output"
    log "initramfs: built ($(stat -c %s "$output") bytes)"
}

require_packages busybox-static cpio xz-utils qemu-system-x86 gcc libc6-dev
bash "$repo_root/guests/debian-kernel.sh"
build_initramfs
bash "$repo_root/guests/linux-numa-memtest/build.sh"
log "ready in $cache"
