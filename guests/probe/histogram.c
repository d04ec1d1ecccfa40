#include "histogram.h"

#define SUB_BUCKETS 16

static u32 bucket_of(u64 cycles)
{
    if (cycles < SUB_BUCKETS)
        return (u32)cycles;
    u32 top_bit = 63 - (u32)__builtin_clzll(cycles);
    return (top_bit - 3) * SUB_BUCKETS + (u32)((cycles >> (top_bit - 4)) & (SUB_BUCKETS - 1));
}

/* The smallest value that falls into the bucket. */
static u64 bucket_floor(u32 bucket)
{
    if (bucket < SUB_BUCKETS)
        return bucket;
    u32 top_bit = bucket / SUB_BUCKETS + 3;
    return (u64)(SUB_BUCKETS + bucket % SUB_BUCKETS) << (top_bit - 4);
}

void histogram_reset(struct cycle_histogram *histogram)
{
    for (u32 i = 0; i < HISTOGRAM_BUCKETS; i++)
        histogram->buckets[i] = 0;
    histogram->count = 0;
    histogram->max = 0;
}

void histogram_add(struct cycle_histogram *histogram, u64 cycles)
{
    histogram->buckets[bucket_of(cycles)]++;
    histogram->count++;
    if (cycles > histogram->max)
        histogram->max = cycles;
}

void histogram_merge(struct cycle_histogram *into, const struct cycle_histogram *from)
{
    for (u32 i = 0; i < HISTOGRAM_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
}

u64 histogram_percentile(const struct cycle_histogram *histogram, u32 percent)
{
    u64 rank = (histogram->count * percent + 99) / 100;
    if (rank == 0)
        rank = 1;
    u64 seen = 0;
    for (u32 i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += histogram->buckets[i];
        if (seen >= rank)
            return bucket_floor(i);
    }
    return 0;
}
