#!/usr/bin/env bash
# The main job on a fresh machine: a whole SSI-HV cluster on this host. `ssihv up --netns` starts one node host
# per node of the default two-node topology (a boot node with the vCPUs, a memory-only node), each in its own
# network namespace joined by veth to a bridge, forms the cluster over the authenticated transport, boots the
# probe guest on the boot node with the assembled ACPI tables and streams its console: the guest reports the
# NUMA machine it sees, starts every CPU and writes and verifies every page of every node, while the boot node
# keeps only part of guest RAM resident and pages the memory node's pages over the transport. It ends with the
# summary (pages per node, remote fault latency, bytes moved) and removes the namespaces.
# Arguments are passed to `ssihv up` (e.g. --topology FILE, --memory-budget SIZE, without --netns: loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

bash .ci/setup.sh --without-guest
dotnet build shell -c Release -nologo -v quiet
ssihv() { dotnet "shell/bin/Release/net10.0/ssihv.dll" "$@"; }

if (($# == 0)); then
    set -- --netns
fi
ssihv up "$@"
