/* What the VMM handed over through the PVH hvm_start_info, copied into the image at CPL0 before
 * anything else can overwrite the loader's copy. */
#ifndef PROBE_BOOT_INFO_H
#define PROBE_BOOT_INFO_H
#include "cpu.h"

#define E820_TYPE_RAM 1
#define MAX_MEMORY_REGIONS 128
#define MAX_CMDLINE_BYTES 1024

struct memory_region {
    u64 base;
    u64 size;
    u32 type;
};

struct boot_info {
    u64 rsdp_address;                /* 0: the VMM did not say; acpi.c then scans the BIOS area */
    char cmdline[MAX_CMDLINE_BYTES]; /* always NUL-terminated */
    u32 memory_region_count;
    struct memory_region memory_regions[MAX_MEMORY_REGIONS];
    /* Problems found at CPL0, reported once the CPL3 side can print (NULL if none). */
    const char *start_info_problem;
    const char *memmap_problem;
    const char *cmdline_problem;
};

extern struct boot_info boot_info;

/* CPL0, before paging.c extends the map: everything read here must lie in the low 4 GiB. */
void boot_info_capture(u64 start_info_address);
bool boot_info_has_memory_map(void);

#endif
