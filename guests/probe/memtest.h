/* The CPL3 memory workload: write a (node, address)-derived pattern into every usable 4 KiB page of
 * each node, timing each page's first touch, then verify. With memtest.cpus=all every CPU of the team
 * (team.h) writes an interleaved share of each node and verifies a share another CPU wrote. */
#ifndef PROBE_MEMTEST_H
#define PROBE_MEMTEST_H
#include "numa.h"
#include "options.h"

/* BSP, after team_form: prints one PROBE memtest line per node and a PROBE memtest-summary line.
 * Nodes and their ranges come from the SRAT; without one, all RAM in the memory map is tested as node 0. */
void memtest_run(const struct probe_options *options, const struct numa_topology *topology);

#endif
