#!/usr/bin/env bash
# The main job on a fresh machine: a whole SSI-HV cluster on this host. `ssihv up` starts one node host per node
# of the default two-node topology (a boot node with the vCPUs, a memory-only node), forms the cluster over the
# authenticated transport, boots the probe guest on the boot node with the assembled ACPI tables and streams its
# console: the guest reports the NUMA machine it sees, starts every CPU and writes and verifies every page of
# every node, while the boot node keeps only part of guest RAM resident and pages the memory node's pages over
# the transport. It ends with the summary (pages per node, remote fault latency, bytes moved and how) and
# removes what it made. Where this host's KVM works, each node host runs in its own network namespace
# (--netns); elsewhere each runs in its own lab machine (--lab, docs/lab.md: real KVM one level down, soft RoCE
# between the machines). Arguments are passed to `ssihv up` instead (e.g. --topology FILE --netns).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# setup.sh also builds ssihv as one native executable (docs/native.md).
bash .ci/setup.sh --without-guest
ssihv() { shell/bin/native/ssihv "$@"; }

if (($# == 0)); then
    if kvm="$(ssihv lab check)"; then
        echo "run.sh: ssihv up --netns: $kvm"
        set -- --netns
    else
        echo "run.sh: ssihv up --lab: $kvm"
        set -- --lab
    fi
fi
ssihv up "$@"
