#include "memtest.h"
#include "boot_info.h"
#include "json.h"
#include "paging.h"
#include "reserved.h"

/* Qwords written in every page: first, middle and last, so both ends of the page are checked. */
static const u32 pattern_offsets[] = { 0, 2048, 4088 };

/* Log-linear histogram of first-touch cycles: values below 16 have their own bucket; above, 16
 * buckets per power of two (resolution 1/16). 64 exponents x 16 = 1024 buckets cover any u64. */
#define HISTOGRAM_SUB_BUCKETS 16
#define HISTOGRAM_BUCKETS 1024
static u32 histogram[HISTOGRAM_BUCKETS];
static u64 histogram_count;
/* Exact, because the rare slow touches (a hypervisor populating a whole 2 MiB region on one fault)
 * fall beyond p99 yet dominate the total. */
static u64 histogram_max;

static u32 bucket_of(u64 cycles)
{
    if (cycles < HISTOGRAM_SUB_BUCKETS)
        return (u32)cycles;
    u32 top_bit = 63 - (u32)__builtin_clzll(cycles);
    return (top_bit - 3) * HISTOGRAM_SUB_BUCKETS + (u32)((cycles >> (top_bit - 4)) & (HISTOGRAM_SUB_BUCKETS - 1));
}

/* The smallest value that falls into the bucket. */
static u64 bucket_floor(u32 bucket)
{
    if (bucket < HISTOGRAM_SUB_BUCKETS)
        return bucket;
    u32 top_bit = bucket / HISTOGRAM_SUB_BUCKETS + 3;
    return (u64)(HISTOGRAM_SUB_BUCKETS + bucket % HISTOGRAM_SUB_BUCKETS) << (top_bit - 4);
}

static void histogram_reset(void)
{
    for (u32 i = 0; i < HISTOGRAM_BUCKETS; i++)
        histogram[i] = 0;
    histogram_count = 0;
    histogram_max = 0;
}

/* Nearest-rank percentile (percent of 100), reported as the floor of its bucket. */
static u64 histogram_percentile(u32 percent)
{
    u64 rank = (histogram_count * percent + 99) / 100;
    if (rank == 0)
        rank = 1;
    u64 seen = 0;
    for (u32 i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += histogram[i];
        if (seen >= rank)
            return bucket_floor(i);
    }
    return 0;
}

static u64 pattern_for(u32 domain, u64 address)
{
    u64 x = address ^ ((u64)domain << 48) ^ 0x9E3779B97F4A7C15ULL;     /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static bool page_is_ram(u64 page)
{
    for (u32 i = 0; i < boot_info.memory_region_count; i++) {
        const struct memory_region *region = &boot_info.memory_regions[i];
        if (region->type == E820_TYPE_RAM && page >= region->base && page - region->base <= region->size &&
            region->size - (page - region->base) >= PAGE_SIZE)
            return true;
    }
    return false;
}

static bool page_is_testable(u64 page)
{
    return page_is_ram(page) && paging_is_mapped(page, PAGE_SIZE) && !range_overlaps_reserved(page, PAGE_SIZE);
}

/* Walks the testable pages of one node in address order, up to the page limit. The write and the
 * verify pass use identical cursors, so they visit the same pages. */
struct page_cursor {
    const struct numa_topology *topology;   /* NULL: node 0 is all RAM of the memory map */
    u32 domain;
    u32 range_index;
    u64 next_page;
    u64 range_end;
    u64 pages_left;
};

static bool cursor_next_range(struct page_cursor *cursor)
{
    for (;;) {
        u64 base, length;
        if (cursor->topology != NULL) {
            if (cursor->range_index >= cursor->topology->range_count)
                return false;
            const struct numa_range *range = &cursor->topology->ranges[cursor->range_index++];
            if (range->domain != cursor->domain)
                continue;
            base = range->base;
            length = range->length;
        } else {
            if (cursor->range_index >= boot_info.memory_region_count)
                return false;
            const struct memory_region *region = &boot_info.memory_regions[cursor->range_index++];
            if (region->type != E820_TYPE_RAM)
                continue;
            base = region->base;
            length = region->size;
        }
        u64 end = base + length < base ? ~0ULL : base + length;
        cursor->next_page = (base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        cursor->range_end = end & ~(PAGE_SIZE - 1);
        if (cursor->next_page < cursor->range_end)
            return true;
    }
}

static bool cursor_next(struct page_cursor *cursor, u64 *page)
{
    while (cursor->pages_left > 0) {
        while (cursor->next_page >= cursor->range_end)
            if (!cursor_next_range(cursor))
                return false;
        u64 candidate = cursor->next_page;
        cursor->next_page += PAGE_SIZE;
        if (page_is_testable(candidate)) {
            cursor->pages_left--;
            *page = candidate;
            return true;
        }
    }
    return false;
}

static struct page_cursor cursor_for(const struct numa_topology *topology, u32 domain, u64 page_limit)
{
    return (struct page_cursor){ topology, domain, 0, 0, 0, page_limit };
}

struct node_result {
    u64 pages;
    u64 mismatches;
    u64 first_mismatch;     /* valid if mismatches > 0 */
};

static u64 write_and_time_pages(struct page_cursor cursor, u32 domain)
{
    u64 pages = 0, page;
    while (cursor_next(&cursor, &page)) {
        u64 first_value = pattern_for(domain, page);
        __asm__ volatile("" : "+r"(first_value));      /* computed before the clock starts */
        u64 start = rdtsc_ordered();
        *(volatile u64 *)(usize)page = first_value;
        u64 cycles = rdtsc_ordered() - start;
        for (u32 i = 1; i < ARRAY_LEN(pattern_offsets); i++)
            *(volatile u64 *)(usize)(page + pattern_offsets[i]) = pattern_for(domain, page + pattern_offsets[i]);
        histogram[bucket_of(cycles)]++;
        histogram_count++;
        if (cycles > histogram_max)
            histogram_max = cycles;
        pages++;
    }
    return pages;
}

static void verify_pages(struct page_cursor cursor, u32 domain, struct node_result *result)
{
    u64 page;
    while (cursor_next(&cursor, &page)) {
        for (u32 i = 0; i < ARRAY_LEN(pattern_offsets); i++) {
            u64 address = page + pattern_offsets[i];
            if (*(volatile u64 *)(usize)address == pattern_for(domain, address))
                continue;
            if (result->mismatches == 0)
                result->first_mismatch = address;
            result->mismatches++;
        }
    }
}

static struct node_result test_node(const struct numa_topology *topology, u32 domain, u64 page_limit)
{
    struct node_result result = { 0, 0, 0 };
    histogram_reset();
    result.pages = write_and_time_pages(cursor_for(topology, domain, page_limit), domain);
    verify_pages(cursor_for(topology, domain, page_limit), domain, &result);

    probe_line_begin("memtest");
    json_key_u64("node", domain);
    json_key_u64("pages", result.pages);
    json_key_u64("mismatches", result.mismatches);
    json_key_u64_or_null("firstMismatch", result.mismatches > 0, result.first_mismatch);
    json_key_u64_or_null("touchCyclesMedian", result.pages > 0, histogram_percentile(50));
    json_key_u64_or_null("touchCyclesP99", result.pages > 0, histogram_percentile(99));
    json_key_u64_or_null("touchCyclesMax", result.pages > 0, histogram_max);
    probe_line_end();
    return result;
}

void memtest_run(const struct probe_options *options, const struct numa_topology *topology)
{
    if (!options->memtest_enabled)
        return;
    if (!boot_info_has_memory_map()) {
        probe_error("memtest skipped: no memory map to tell RAM from everything else");
        return;
    }
    if (reserved_list_overflowed()) {
        probe_error("memtest skipped: too many reserved ranges to track");
        return;
    }
    u64 total_pages = 0, total_mismatches = 0;
    if (topology->range_count > 0) {
        for (u32 n = 0; n < topology->node_count; n++) {
            struct node_result result = test_node(topology, topology->node_domains[n], options->memtest_page_limit);
            total_pages += result.pages;
            total_mismatches += result.mismatches;
        }
    } else {
        struct node_result result = test_node(NULL, 0, options->memtest_page_limit);
        total_pages = result.pages;
        total_mismatches = result.mismatches;
    }
    probe_line_begin("memtest-summary");
    json_key_u64("pages", total_pages);
    json_key_u64("mismatches", total_mismatches);
    probe_line_end();
}
