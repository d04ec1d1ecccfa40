/* Identity map of RAM above 4 GiB (the low 4 GiB are mapped statically by entry.S). */
#ifndef PROBE_PAGING_H
#define PROBE_PAGING_H
#include "cpu.h"

/* CPL0. Maps every 1 GiB slot that holds RAM from the captured memory map with 2 MiB pages. */
void paging_map_ram_above_4gib(void);
/* True if every byte of [address, address + length) is identity-mapped. */
bool paging_is_mapped(u64 address, u64 length);
/* First byte after the page directories allocated at run time (they sit right after the image). */
u64 paging_pool_end(void);
extern const char *paging_problem;

#endif
