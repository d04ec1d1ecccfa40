/* The memory functions gcc may emit calls to even in freestanding code (struct copies and
 * initializers). Built with -fno-tree-loop-distribute-patterns so these loops are not turned back
 * into calls to themselves. */
#include "cpu.h"

void *memset(void *destination, int value, usize count)
{
    u8 *d = destination;
    for (usize i = 0; i < count; i++)
        d[i] = (u8)value;
    return destination;
}

void *memcpy(void *destination, const void *source, usize count)
{
    u8 *d = destination;
    const u8 *s = source;
    for (usize i = 0; i < count; i++)
        d[i] = s[i];
    return destination;
}
