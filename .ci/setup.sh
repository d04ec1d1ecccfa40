#!/usr/bin/env bash
# Installs everything the build, the tests and run.sh need on Debian 12, as root. Idempotent: on a machine
# where it has already run it only checks, which takes a few seconds, so every entry point calls it.
#   --without-guest   skip building the Linux test guest (run.sh needs no guest)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_guest=true
for arg in "$@"; do
    case "$arg" in
        --without-guest) build_guest=false ;;
        *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

log() { echo "[setup] $*"; }

# qemu + busybox + cpio + xz: the Linux guest that parses our ACPI tables (docs/design.md §6);
# acpica-tools: iasl, which must disassemble every table we generate; gcc + make + binutils: the probe guest and
# the C references of `ssihv bench`, which `dotnet build` of the shell makes; libc6-dev: the C library the bench
# references and the static Linux NUMA memtest guest (guests/linux-numa-memtest) link;
# iproute2 + iputils-ping: `ssihv up --netns` and its namespace tests.
# libibverbs1: RDMA device enumeration and the verbs transport; libibverbs-dev: infiniband/verbs.h, against which
# the tests check our hand-written verbs struct layouts; ibverbs-providers: the user-space driver of soft RoCE
# (rdma_rxe) in lab machines. kmod: depmod, which writes the lab kernel's modules.dep (docs/lab.md).
# linux-libc-dev: linux/kvm.h and linux/userfaultfd.h, against which the ABI tests check our structs and ioctl
# numbers (libc6-dev pulls it in; named because the tests need it themselves).
# clang + zlib1g-dev: the native AOT compiler's linker and a library the native runtime links (docs/native.md).
packages=(qemu-system-x86 acpica-tools busybox-static cpio xz-utils gcc libc6-dev make binutils iproute2 iputils-ping libibverbs1 libibverbs-dev ibverbs-providers kmod linux-libc-dev clang zlib1g-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null
fi

command -v dotnet >/dev/null || { echo "setup.sh: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
dotnet tool restore >/dev/null
# Paket rewrites nothing when paket.lock is unchanged and everything is already restored.
dotnet paket restore >/dev/null
log "packages and .NET tools ready"

if $build_guest && [[ -f tests/linux-guest/build.sh ]]; then
    bash tests/linux-guest/build.sh
fi

# ssihv as one native executable (native AOT, docs/native.md), which run.sh, test.sh and the lab machines run.
# The compiler skips its work when nothing changed.
dotnet publish shell -c Release -r linux-x64 -o shell/bin/native -nologo -v quiet
log "native ssihv ready: shell/bin/native/ssihv"

# The lab image (Debian's kernel with kvm-amd + the lab initramfs): machines with real KVM one level down, where
# the KVM tests and the main job run on hosts without /dev/kvm. Built once; later runs only check its stamp.
shell/bin/native/ssihv lab prepare
