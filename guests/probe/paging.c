#include "paging.h"
#include "boot_info.h"
#include "layout.h"

#define ENTRIES_PER_TABLE 512
/* One PDPT covers 512 GiB; that is the probe's limit. */
#define MAPPABLE_BYTES (ENTRIES_PER_TABLE * GIB)

extern u64 pdpt[ENTRIES_PER_TABLE];
extern u8 __image_end[];

const char *paging_problem;
static u64 pool_next;

u64 paging_pool_end(void) { return pool_next != 0 ? pool_next : (u64)(usize)__image_end; }

/* The 2 MiB entries of a whole 1 GiB slot are written in one tight loop (about four instructions
 * per entry at CPL0); mapping a whole slot is cheaper than testing each 2 MiB page against the
 * memory map, and non-RAM in it is simply never touched. */
static void map_gib_slot(u32 slot)
{
    if (pdpt[slot] & PTE_PRESENT)
        return;
    if (pool_next == 0)
        pool_next = (u64)(usize)__image_end;
    u64 *directory = (u64 *)(usize)pool_next;
    pool_next += PAGE_SIZE;
    u64 entry = (u64)slot * GIB | PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_LARGE;
    for (u32 i = 0; i < ENTRIES_PER_TABLE; i++, entry += LARGE_PAGE_SIZE)
        directory[i] = entry;
    pdpt[slot] = (u64)(usize)directory | PTE_PRESENT | PTE_WRITABLE | PTE_USER;
}

void paging_map_ram_above_4gib(void)
{
    for (u32 r = 0; r < boot_info.memory_region_count; r++) {
        const struct memory_region *region = &boot_info.memory_regions[r];
        if (region->type != E820_TYPE_RAM || region->size == 0)
            continue;
        u64 end = region->base + region->size;
        if (end <= LOW_IDENTITY_MAP_BYTES || end < region->base)
            continue;
        if (end > MAPPABLE_BYTES) {
            paging_problem = "RAM above 512 GiB is not mapped";
            end = MAPPABLE_BYTES;
        }
        u64 start = region->base > LOW_IDENTITY_MAP_BYTES ? region->base : LOW_IDENTITY_MAP_BYTES;
        for (u64 slot = start / GIB; slot <= (end - 1) / GIB; slot++)
            map_gib_slot((u32)slot);
    }
}

bool paging_is_mapped(u64 address, u64 length)
{
    if (length == 0)
        return true;
    u64 last = address + length - 1;
    if (last < address || last >= MAPPABLE_BYTES)
        return false;
    for (u64 slot = address / GIB; slot <= last / GIB; slot++)
        if (!(pdpt[slot] & PTE_PRESENT))
            return false;
    return true;
}
