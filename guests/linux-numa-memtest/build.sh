#!/usr/bin/env bash
# Builds the Linux NUMA memtest guest into <repo>/.guest-cache/: Debian's stock kernel (guests/debian-kernel.sh)
# and numa-memtest.cpio.gz, a busybox initramfs whose /init (init.sh here) runs numa_memtest (numa_memtest.c,
# linked statically) over every NUMA node's memory and powers off. Idempotent: rebuilt only when a source is newer.
# Needs gcc, busybox-static, cpio (Debian 12; .ci/setup.sh installs them).
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
cache="$repo_root/.guest-cache"
output="$cache/numa-memtest.cpio.gz"

bash "$repo_root/guests/debian-kernel.sh"
if [[ -s "$output" && "$output" -nt "$script_dir/init.sh" && "$output" -nt "$script_dir/numa_memtest.c" ]]; then
    echo "[numa-memtest] initramfs: cached"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -Wall -Wextra -Werror -o "$work/numa_memtest" "$script_dir/numa_memtest.c"
bash "$repo_root/guests/busybox-initramfs.sh" "$script_dir/init.sh" "$output" "$work/numa_memtest"
echo "[numa-memtest] initramfs: built $output ($(stat -c %s "$output") bytes)"
