#include "memtest.h"
#include "boot_info.h"
#include "histogram.h"
#include "json.h"
#include "paging.h"
#include "reserved.h"
#include "smp.h"
#include "team.h"

/* Qwords written in every page: first, middle and last, so both ends of the page are checked. */
static const u32 pattern_offsets[] = { 0, 2048, 4088 };

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

/* Walks the testable pages of one node in address order, up to the page limit. Every CPU, in the
 * write and in the verify pass, walks them with an identical cursor, so all agree on page numbers. */
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

/* What every CPU needs to know to do its part of one node. */
struct node_job {
    const struct numa_topology *topology;   /* NULL: node 0 is all RAM of the memory map */
    u32 domain;
    u64 page_limit;
};

static struct page_cursor cursor_for(const struct node_job *job)
{
    return (struct page_cursor){ job->topology, job->domain, 0, 0, 0, job->page_limit };
}

/* Shares: with N CPUs, the node's page number i (in cursor order) belongs to share i % N. CPU m writes
 * share m and then verifies share (m + 1) % N, pages another CPU wrote, so a write that got lost or a
 * page that the hypervisor handed back stale between CPUs shows up as a mismatch. Interleaving page
 * by page makes every CPU touch every node, and neighbouring pages (the same 2 MiB region a
 * hypervisor may populate on one fault) at the same time. */
static u32 verified_share(u32 cpu, u32 cpus) { return (cpu + 1) % cpus; }

static u64 share_page_count(u64 node_pages, u32 share, u32 cpus)
{
    return node_pages / cpus + (share < node_pages % cpus ? 1 : 0);
}

/* A share's first page is the node's page number `share`. */
static u64 first_page_of_share(const struct node_job *job, u32 share)
{
    struct page_cursor cursor = cursor_for(job);
    u64 page = 0;
    for (u32 i = 0; i <= share; i++)
        cursor_next(&cursor, &page);
    return page;
}

/* One CPU's part of one node. Written only by that CPU while its job runs, read by the BSP after. */
struct share_result {
    u64 node_pages;                         /* testable pages in the whole node */
    u64 mismatches;                         /* in the share this CPU verified */
    u64 first_mismatch;                     /* lowest address; valid if mismatches > 0 */
    struct cycle_histogram touch_cycles;    /* first writes of the share this CPU wrote */
};

/* About 1 MiB, so in a section the loader does not fill: each CPU resets its own entry first. */
static struct share_result share_results[MAX_CPUS] __attribute__((section(".scratch")));

static void write_and_time_page(u64 page, u32 domain, struct cycle_histogram *touch_cycles)
{
    u64 first_value = pattern_for(domain, page);
    __asm__ volatile("" : "+r"(first_value));      /* computed before the clock starts */
    u64 start = rdtsc_ordered();
    *(volatile u64 *)(usize)page = first_value;
    u64 cycles = rdtsc_ordered() - start;
    for (u32 i = 1; i < ARRAY_LEN(pattern_offsets); i++)
        *(volatile u64 *)(usize)(page + pattern_offsets[i]) = pattern_for(domain, page + pattern_offsets[i]);
    histogram_add(touch_cycles, cycles);
}

static void record_mismatches(u64 *mismatches, u64 *first_mismatch, u64 count, u64 first)
{
    if (count == 0)
        return;
    if (*mismatches == 0 || first < *first_mismatch)
        *first_mismatch = first;
    *mismatches += count;
}

static void verify_page(u64 page, u32 domain, struct share_result *result)
{
    for (u32 i = 0; i < ARRAY_LEN(pattern_offsets); i++) {
        u64 address = page + pattern_offsets[i];
        if (*(volatile u64 *)(usize)address != pattern_for(domain, address))
            record_mismatches(&result->mismatches, &result->first_mismatch, 1, address);
    }
}

/* team_job: writes share `cpu` of the node. */
static void write_share(u32 cpu, u32 cpus, const void *context)
{
    const struct node_job *job = context;
    struct share_result *result = &share_results[cpu];
    histogram_reset(&result->touch_cycles);
    result->mismatches = 0;
    struct page_cursor cursor = cursor_for(job);
    u64 page, page_number = 0;
    u32 share = 0;      /* page_number % cpus, without a division per page */
    for (; cursor_next(&cursor, &page); page_number++) {
        if (share == cpu)
            write_and_time_page(page, job->domain, &result->touch_cycles);
        if (++share == cpus)
            share = 0;
    }
    result->node_pages = page_number;
}

/* team_job: verifies the share another CPU wrote. */
static void verify_share(u32 cpu, u32 cpus, const void *context)
{
    const struct node_job *job = context;
    struct share_result *result = &share_results[cpu];
    u32 verified = verified_share(cpu, cpus);
    struct page_cursor cursor = cursor_for(job);
    u64 page;
    u32 share = 0;
    while (cursor_next(&cursor, &page)) {
        if (share == verified)
            verify_page(page, job->domain, result);
        if (++share == cpus)
            share = 0;
    }
}

struct node_result {
    u64 pages;
    u64 mismatches;
    u64 first_mismatch;     /* valid if mismatches > 0 */
};

/* Reports each CPU the first time it is found lost; its later shares count as mismatches silently. */
static void report_lost_cpus(u32 cpus)
{
    static bool reported[MAX_CPUS];
    for (u32 cpu = 0; cpu < cpus; cpu++) {
        if (!team_member_lost(cpu) || reported[cpu])
            continue;
        reported[cpu] = true;
        probe_error_begin("memtest share not finished");
        json_key_u64("apicId", smp_apic_id(cpu));
        probe_line_end();
    }
}

static struct cycle_histogram node_touch_cycles;

/* BSP: merges the CPUs' results. A lost CPU did not verify its share (or not to the end), so each of
 * that share's pattern words counts as a mismatch, the first at the share's first page. */
static struct node_result merge_share_results(const struct node_job *job, u32 cpus)
{
    struct node_result result = { share_results[TEAM_LEADER].node_pages, 0, 0 };
    histogram_reset(&node_touch_cycles);
    for (u32 cpu = 0; cpu < cpus; cpu++) {
        if (team_member_lost(cpu)) {
            u32 share = verified_share(cpu, cpus);
            u64 unverified_words = share_page_count(result.pages, share, cpus) * ARRAY_LEN(pattern_offsets);
            if (unverified_words > 0)
                record_mismatches(&result.mismatches, &result.first_mismatch, unverified_words,
                                  first_page_of_share(job, share));
            continue;
        }
        const struct share_result *share_result = &share_results[cpu];
        record_mismatches(&result.mismatches, &result.first_mismatch, share_result->mismatches,
                          share_result->first_mismatch);
        histogram_merge(&node_touch_cycles, &share_result->touch_cycles);
    }
    return result;
}

static struct node_result test_node(const struct node_job *job, bool report_cpus)
{
    u32 cpus = team_size();
    team_run(write_share, job);
    report_lost_cpus(cpus);
    team_run(verify_share, job);
    report_lost_cpus(cpus);
    struct node_result result = merge_share_results(job, cpus);

    bool timed = node_touch_cycles.count > 0;
    probe_line_begin("memtest");
    json_key_u64("node", job->domain);
    if (report_cpus)
        json_key_u64("cpus", cpus);
    json_key_u64("pages", result.pages);
    json_key_u64("mismatches", result.mismatches);
    json_key_u64_or_null("firstMismatch", result.mismatches > 0, result.first_mismatch);
    json_key_u64_or_null("touchCyclesMedian", timed, histogram_percentile(&node_touch_cycles, 50));
    json_key_u64_or_null("touchCyclesP99", timed, histogram_percentile(&node_touch_cycles, 99));
    json_key_u64_or_null("touchCyclesMax", timed, node_touch_cycles.max);
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
    bool report_cpus = options->memtest_on_all_cpus;
    if (topology->range_count > 0) {
        for (u32 n = 0; n < topology->node_count; n++) {
            struct node_job job = { topology, topology->node_domains[n], options->memtest_page_limit };
            struct node_result result = test_node(&job, report_cpus);
            total_pages += result.pages;
            total_mismatches += result.mismatches;
        }
    } else {
        struct node_job job = { NULL, 0, options->memtest_page_limit };
        struct node_result result = test_node(&job, report_cpus);
        total_pages = result.pages;
        total_mismatches = result.mismatches;
    }
    probe_line_begin("memtest-summary");
    json_key_u64("pages", total_pages);
    json_key_u64("mismatches", total_mismatches);
    probe_line_end();
}
