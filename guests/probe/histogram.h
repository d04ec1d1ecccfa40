/* Log-linear histogram of cycle counts (first-touch times of the memory workload): values below 16
 * have their own bucket; above, 16 buckets per power of two (resolution 1/16). 64 exponents x 16 =
 * 1024 buckets cover any u64. Each CPU fills its own; the BSP merges them. */
#ifndef PROBE_HISTOGRAM_H
#define PROBE_HISTOGRAM_H
#include "cpu.h"

#define HISTOGRAM_BUCKETS 1024

struct cycle_histogram {
    u32 buckets[HISTOGRAM_BUCKETS];
    u64 count;
    /* Exact, because the rare slow touches (a hypervisor populating a whole 2 MiB region on one fault)
     * fall beyond p99 yet dominate the total. */
    u64 max;
};

void histogram_reset(struct cycle_histogram *histogram);
void histogram_add(struct cycle_histogram *histogram, u64 cycles);
void histogram_merge(struct cycle_histogram *into, const struct cycle_histogram *from);
/* Nearest-rank percentile (percent of 100), reported as the lower bound of its bucket; 0 if empty. */
u64 histogram_percentile(const struct cycle_histogram *histogram, u32 percent);

#endif
