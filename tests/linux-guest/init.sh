#!/bin/sh
# /init of the harness initramfs. Prints the kernel's NUMA view and the ACPI tables it was given on the
# serial console, then powers off. The C# side (tests/LinuxGuest/QemuLinux.cs) parses the lines between
# the BEGIN and END markers; each line is "<kind> <fields...>":
#   kernel <release>
#   online <node list>
#   cpus <list of online CPUs>
#   node <N> cpulist <cpu list, may be empty>
#   node <N> memtotal_kib <kB>
#   node <N> distance <d0> <d1> ...
#   node <N> access<K> initiators <node ids...>
#   node <N> access<K> <read_latency|write_latency|read_bandwidth|write_bandwidth> <value>
#   node <N> cache <K> <size|line_size|indexing|write_policy> <value>
#   acpi <signature> <base64 of the raw table>
#   log <kernel log line about ACPI/NUMA>
#   problem <kernel log line of level warning or worse, raw: "<level>[time] text">
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
export PATH=/bin

# Keep kernel messages off the console so they cannot interleave with the report.
echo 1 > /proc/sys/kernel/printk

nodes=/sys/devices/system/node

# Prints "<prefix> <file> <value>" for each of the named files that exists in <dir>.
report_files() {
    local dir=$1 prefix=$2 name
    shift 2
    for name in "$@"; do
        [ -f "$dir/$name" ] && echo "$prefix $name $(cat "$dir/$name")"
    done
}

report_node() {
    local dir=$1 access class initiators cache
    local id=${dir##*/node}
    echo "node $id cpulist $(cat "$dir/cpulist")"
    echo "node $id memtotal_kib $(awk '/MemTotal:/ { print $4 }' "$dir/meminfo")"
    echo "node $id distance $(cat "$dir/distance")"
    for access in "$dir"/access*; do
        [ -d "$access" ] || continue
        class=${access##*/}
        initiators=$(ls "$access/initiators" | sed -n 's/^node//p' | sort -n | tr '\n' ' ')
        echo "node $id $class initiators $initiators"
        report_files "$access/initiators" "node $id $class" \
            read_latency write_latency read_bandwidth write_bandwidth
    done
    for cache in "$dir"/memory_side_cache/index*; do
        [ -d "$cache" ] || continue
        report_files "$cache" "node $id cache ${cache##*/index}" size line_size indexing write_policy
    done
}

echo "SSIHV-NUMA-BEGIN"
echo "kernel $(uname -r)"
echo "online $(cat $nodes/online)"
echo "cpus $(cat /sys/devices/system/cpu/online)"
for dir in $nodes/node*; do
    [ -d "$dir" ] && report_node "$dir"
done
for table in /sys/firmware/acpi/tables/*; do
    [ -f "$table" ] && echo "acpi ${table##*/} $(base64 -w 0 "$table")"
done
dmesg | grep -i -E 'acpi|numa|srat|slit|hmat|node' | sed 's/^/log /'
dmesg -r | grep '^<[0-4]>' | sed 's/^/problem /'
echo "SSIHV-NUMA-END"

poweroff -f
