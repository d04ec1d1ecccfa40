#!/usr/bin/env bash
# Packs a busybox initramfs: busybox-static with every applet linked in /bin, INIT as /init, and each further
# FILE in /bin. Shared by the guests' build scripts.
# usage: busybox-initramfs.sh INIT OUTPUT.cpio.gz [FILE...]
set -euo pipefail
init=$1 output=$2
shift 2

busybox=/bin/busybox
# A dynamic busybox would need its libraries in the initramfs too.
if ldd "$busybox" >/dev/null 2>&1; then
    echo "$busybox is dynamically linked (install busybox-static)" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys}
cp "$busybox" "$work/bin/busybox"
for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$work/bin/$applet"
done
for file in "$@"; do
    install -m 0755 "$file" "$work/bin/"
done
install -m 0755 "$init" "$work/init"
# The kernel opens /dev/console before running /init; devtmpfs is mounted only afterwards.
mknod -m 600 "$work/dev/console" c 5 1
(cd "$work" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -9 > "$output.tmp"
mv "$output.tmp" "$output"
