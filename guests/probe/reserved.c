#include "reserved.h"

#define MAX_RESERVED_RANGES 256

struct range {
    u64 base;
    u64 end;    /* exclusive; saturates at 2^64 - 1 */
};

static struct range ranges[MAX_RESERVED_RANGES];
static u32 range_count;
static bool overflowed;

void reserve_range(u64 base, u64 length)
{
    if (length == 0)
        return;
    if (range_count == MAX_RESERVED_RANGES) {
        overflowed = true;
        return;
    }
    u64 end = base + length;
    ranges[range_count++] = (struct range){ base, end < base ? ~0ULL : end };
}

bool range_overlaps_reserved(u64 base, u64 length)
{
    u64 end = base + length;
    for (u32 i = 0; i < range_count; i++)
        if (base < ranges[i].end && ranges[i].base < end)
            return true;
    return false;
}

bool reserved_list_overflowed(void) { return overflowed; }
