/* The NUMA view from SRAT (CPU and memory affinity), SLIT (distances) and HMAT (latency, bandwidth,
 * memory-side caches), read the way Linux reads them. */
#ifndef PROBE_NUMA_H
#define PROBE_NUMA_H
#include "acpi.h"

#define MAX_NODES 64
#define MAX_MEMORY_AFFINITIES 128
#define MAX_LOCALITIES 64
#define MAX_ACCESS_PAIRS 1024
#define MAX_CACHES 64

enum hmat_measure { HMAT_ACCESS = 0, HMAT_READ = 1, HMAT_MEASURES = 2 };

struct numa_cpu {
    u32 apic_id;
    u32 domain;
};

struct numa_range {
    u32 domain;
    u64 base;
    u64 length;
};

/* Normalized HMAT values for one initiator/target pair; 0 means "not given". The access figure is
 * preferred, the read figure is the fallback. */
struct numa_access {
    u32 initiator;
    u32 target;
    u32 latency_ns[HMAT_MEASURES];
    u32 bandwidth_mbps[HMAT_MEASURES];
};

struct numa_cache {
    u32 domain;
    u64 size_bytes;
    u32 attributes;     /* ACPI Cache Attributes, decoded when printed */
};

struct numa_topology {
    bool has_srat;
    u32 cpu_count;
    struct numa_cpu cpus[MAX_CPUS];                     /* sorted by APIC ID */
    u32 range_count;
    struct numa_range ranges[MAX_MEMORY_AFFINITIES];    /* sorted by base */
    u32 node_count;
    u32 node_domains[MAX_NODES];                        /* sorted */
    u32 locality_count;                                 /* 0: no SLIT */
    u8 distances[MAX_LOCALITIES][MAX_LOCALITIES];
    u32 access_count;
    struct numa_access access[MAX_ACCESS_PAIRS];        /* sorted by (initiator, target) */
    u32 cache_count;
    struct numa_cache caches[MAX_CACHES];               /* table order */
};

void numa_parse(const struct acpi_tables *tables, struct numa_topology *topology);
bool numa_domain_of_apic(const struct numa_topology *topology, u32 apic_id, u32 *domain);
/* PROBE numa {...} */
void numa_print(const struct numa_topology *topology, const struct madt_info *madt, const struct s5_info *s5);

#endif
