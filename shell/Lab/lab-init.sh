#!/bin/busybox sh
# /init of a lab machine (docs/lab.md). Loads the modules listed in /lab/modules.load, mounts the host's / over
# virtio-9p read-only with a throw-away tmpfs overlay on top and chroots into it, so the host's paths, tools and
# build outputs are all there; mounts the writable shares at their own paths; brings up the NIC (and soft RoCE
# on it) when asked; then runs the command script with its stdout relayed to ttyS1 and its stderr to ttyS2.
# Protocol lines on the console (ttyS0), each alone on its line: "SSIHV-LAB ready", "SSIHV-LAB exit CODE",
# "SSIHV-LAB failed REASON". The kernel command line carries the parameters: ssihv.script=PATH,
# ssihv.shareN=PATH (N = 0, 1, ...), ssihv.ip=ADDRESS/PREFIX, ssihv.rxe=1.
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "SSIHV-LAB $*"; }
fail() {
    say "failed $*"
    poweroff -f
    sleep 60
}
param() {
    for word in $(cat /proc/cmdline); do
        case "$word" in "ssihv.$1="*) echo "${word#*=}"; return ;; esac
    done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r module; do
    insmod "/lib/modules/$module" || fail "insmod $module"
done < /lab/modules.load

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host \
    || fail "mounting the host's / over virtio-9p"
mount -t tmpfs -o mode=0755 overlay-rw /rw || fail "mounting the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /root || fail "mounting the overlay"
# The host's /proc, /sys, /dev and /run seen through 9p describe the host, not this machine.
mount -t proc proc /root/proc || fail "mounting /proc"
mount -t sysfs sysfs /root/sys || fail "mounting /sys"
mount -t devtmpfs devtmpfs /root/dev || fail "mounting /dev"
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts devpts /root/dev/pts
mount -t tmpfs shm /root/dev/shm
mount -t tmpfs run /root/run

share=0
while path=$(param "share$share") && [ -n "$path" ]; do
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "share$share" "/root$path" \
        || fail "mounting the writable share $path"
    share=$((share + 1))
done

hostname lab
ip link set lo up
address=$(param ip)
if [ -n "$address" ]; then
    ip link set eth0 up || fail "no NIC eth0"
    ip addr add "$address" dev eth0 || fail "ip addr add $address dev eth0"
fi
if [ "$(param rxe)" = 1 ]; then
    chroot /root rdma link add rxe0 type rxe netdev eth0 || fail "rdma link add rxe0 type rxe netdev eth0"
fi

# Raw ttys: the command's bytes reach the host unchanged (no CR added before LF).
stty -F /dev/ttyS1 raw -echo || fail "stty ttyS1"
stty -F /dev/ttyS2 raw -echo || fail "stty ttyS2"
ulimit -n 1048576
# Tests read this to scale their time limits: everything here runs at TCG speed (docs/lab.md).
export SSIHV_LAB_MACHINE=1
script=$(param script)
# Through pipes, as on a host where the output is captured: programs that see a terminal would add colours and
# cursor control.
mkfifo /command.stdout /command.stderr
cat /command.stdout >/dev/ttyS1 &
stdout_relay=$!
cat /command.stderr >/dev/ttyS2 &
stderr_relay=$!
say ready
chroot /root /bin/sh "$script" </dev/null >/command.stdout 2>/command.stderr
code=$?
# A background process the command left behind may hold the pipes open: its output is given 10 s, not forever.
(sleep 10; kill "$stdout_relay" "$stderr_relay" 2>/dev/null) &
watchdog=$!
wait "$stdout_relay" "$stderr_relay"
kill "$watchdog" 2>/dev/null
say "exit $code"
poweroff -f
