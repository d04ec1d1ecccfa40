#!/bin/sh
# /init of the NUMA memtest initramfs: shows the NUMA machine Linux sees, runs numa_memtest over every node's
# memory and powers off. `numa_memtest.percent=N` on the kernel command line sets how much of each node's free
# memory is tested (default 70).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
export PATH=/bin
# Kernel messages would interleave with the results on the one serial console.
echo 1 > /proc/sys/kernel/printk

percent=70
for word in $(cat /proc/cmdline); do
    case "$word" in numa_memtest.percent=*) percent=${word#*=} ;; esac
done

echo "numa-memtest: Linux $(uname -r), CPUs online $(cat /sys/devices/system/cpu/online), nodes $(cat /sys/devices/system/node/online)"
for dir in /sys/devices/system/node/node*; do
    id=${dir##*/node}
    echo "numa-memtest: node $id: CPUs [$(cat "$dir/cpulist")], $(awk '/MemTotal:/ { print $4 }' "$dir/meminfo") KiB, distances $(cat "$dir/distance")"
done
/bin/numa_memtest "$percent"
echo "numa-memtest: exit status $?"
poweroff -f
