/* Physical ranges the memory workload must leave alone: the probe's own image, stacks and page
 * tables, the AP trampoline, the legacy/BIOS area, ACPI tables and non-RAM memory map entries. */
#ifndef PROBE_RESERVED_H
#define PROBE_RESERVED_H
#include "cpu.h"

void reserve_range(u64 base, u64 length);
bool range_overlaps_reserved(u64 base, u64 length);
/* More ranges were reserved than the list holds: the workload must not run. */
bool reserved_list_overflowed(void);

#endif
