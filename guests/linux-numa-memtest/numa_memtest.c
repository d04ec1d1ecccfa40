// numa-memtest: the user-space half of the Linux cluster demo (`ssihv up --kernel ... --initrd ...`).
//
// For every NUMA node with memory, it maps a buffer of PERCENT % of the node's free memory, binds it to that node
// with mbind(MPOL_BIND) (so the kernel must place every page there, whichever host homes it), writes a pattern
// that differs per node and per word, reads it all back, and asks the kernel (move_pages) where each page lives.
// One line per node and a verdict line; the exit status is 0 only when every word matched and every page was on
// its node. Static, no libnuma: the initramfs has nothing but busybox.
//
// usage: numa_memtest [PERCENT]   (1..95, default 70)
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MPOL_BIND_MODE = 2, MAX_NODES = 64, PAGE_QUERY_BATCH = 512 };

static const char *const nodes_with_memory = "/sys/devices/system/node/has_memory";

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Parses a kernel node list such as "0-1,3" into `present`; returns the number of nodes or -1.
static int parse_node_list(const char *text, int present[MAX_NODES])
{
    int count = 0;
    memset(present, 0, sizeof(int) * MAX_NODES);
    while (*text && *text != '\n') {
        char *end;
        long first = strtol(text, &end, 10), last = first;
        if (end == text)
            return -1;
        if (*end == '-') {
            text = end + 1;
            last = strtol(text, &end, 10);
            if (end == text)
                return -1;
        }
        if (first < 0 || last >= MAX_NODES || last < first)
            return -1;
        for (long n = first; n <= last; n++, count++)
            present[n] = 1;
        text = *end == ',' ? end + 1 : end;
    }
    return count;
}

// MemFree of one node in KiB, from /sys/devices/system/node/nodeN/meminfo; -1 when unreadable.
static long node_free_kib(int node)
{
    char path[96], line[256];
    snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", node);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, file)) {
        char *field = strstr(line, "MemFree:");
        if (field) {
            kib = strtol(field + strlen("MemFree:"), NULL, 10);
            break;
        }
    }
    fclose(file);
    return kib;
}

// The word written at `index` of node `node`'s buffer: distinct per node and per word, never the zero page's 0.
static uint64_t pattern(int node, uint64_t index)
{
    return (0x9E3779B97F4A7C15ull * (index + 1)) ^ ((uint64_t)(node + 1) << 56);
}

struct node_result {
    uint64_t bytes, mismatches, pages, pages_elsewhere;
    double write_seconds, verify_seconds;
};

static int test_node(int node, int percent, struct node_result *result)
{
    long page = sysconf(_SC_PAGESIZE);
    long free_kib = node_free_kib(node);
    if (free_kib < 0) {
        printf("numa-memtest: node %d: cannot read its meminfo\n", node);
        return -1;
    }
    uint64_t bytes = (uint64_t)free_kib * 1024 / 100 * (uint64_t)percent / (uint64_t)page * (uint64_t)page;
    memset(result, 0, sizeof *result);
    if (bytes == 0)
        return 0;
    char *buffer = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (buffer == MAP_FAILED) {
        printf("numa-memtest: node %d: mmap of %llu bytes failed: %s\n", node, (unsigned long long)bytes,
               strerror(errno));
        return -1;
    }
    unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))] = {0};
    mask[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
    if (syscall(SYS_mbind, buffer, bytes, MPOL_BIND_MODE, mask, (unsigned long)MAX_NODES + 1, 0) != 0) {
        printf("numa-memtest: node %d: mbind failed: %s\n", node, strerror(errno));
        munmap(buffer, bytes);
        return -1;
    }

    uint64_t *words = (uint64_t *)buffer, count = bytes / sizeof(uint64_t);
    double start = seconds_now();
    for (uint64_t i = 0; i < count; i++)
        words[i] = pattern(node, i);
    result->write_seconds = seconds_now() - start;
    start = seconds_now();
    for (uint64_t i = 0; i < count; i++)
        if (words[i] != pattern(node, i))
            result->mismatches++;
    result->verify_seconds = seconds_now() - start;

    // move_pages with no target nodes only reports where each page is.
    result->pages = bytes / (uint64_t)page;
    void *pages[PAGE_QUERY_BATCH];
    int status[PAGE_QUERY_BATCH];
    for (uint64_t first = 0; first < result->pages; first += PAGE_QUERY_BATCH) {
        unsigned long batch = result->pages - first < PAGE_QUERY_BATCH ? result->pages - first : PAGE_QUERY_BATCH;
        for (unsigned long i = 0; i < batch; i++)
            pages[i] = buffer + (first + i) * (uint64_t)page;
        if (syscall(SYS_move_pages, 0, batch, pages, NULL, status, 0) != 0) {
            printf("numa-memtest: node %d: move_pages failed: %s\n", node, strerror(errno));
            munmap(buffer, bytes);
            return -1;
        }
        for (unsigned long i = 0; i < batch; i++)
            if (status[i] != node)
                result->pages_elsewhere++;
    }
    result->bytes = bytes;
    munmap(buffer, bytes);
    return 0;
}

int main(int argc, char **argv)
{
    int percent = argc > 1 ? atoi(argv[1]) : 70;
    if (percent < 1 || percent > 95) {
        printf("numa-memtest: PERCENT must be 1..95, not '%s'\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char list[256] = {0};
    FILE *file = fopen(nodes_with_memory, "r");
    if (!file || !fgets(list, sizeof list, file)) {
        printf("numa-memtest: cannot read %s: %s\n", nodes_with_memory, strerror(errno));
        return 2;
    }
    fclose(file);
    int present[MAX_NODES];
    int node_count = parse_node_list(list, present);
    if (node_count <= 0) {
        printf("numa-memtest: %s holds '%s', not a node list\n", nodes_with_memory, list);
        return 2;
    }
    printf("numa-memtest: %d node(s) with memory; testing %d%% of each node's free memory\n", node_count, percent);

    int failed = 0;
    uint64_t total_bytes = 0, total_mismatches = 0, total_elsewhere = 0;
    for (int node = 0; node < MAX_NODES; node++) {
        if (!present[node])
            continue;
        struct node_result r;
        if (test_node(node, percent, &r) != 0) {
            failed = 1;
            continue;
        }
        double mib = (double)r.bytes / (1024.0 * 1024.0);
        printf("numa-memtest: node %d: %.1f MiB written in %.2f s (%.1f MiB/s) and verified in %.2f s; "
               "mismatches %llu; pages on node %d: %llu of %llu\n",
               node, mib, r.write_seconds, r.write_seconds > 0 ? mib / r.write_seconds : 0.0, r.verify_seconds,
               (unsigned long long)r.mismatches, node, (unsigned long long)(r.pages - r.pages_elsewhere),
               (unsigned long long)r.pages);
        total_bytes += r.bytes;
        total_mismatches += r.mismatches;
        total_elsewhere += r.pages_elsewhere;
        if (r.mismatches || r.pages_elsewhere || r.bytes == 0)
            failed = 1;
    }
    printf("numa-memtest: %s: %d node(s), %.1f MiB tested, %llu mismatches, %llu pages off their node\n",
           failed ? "FAIL" : "PASS", node_count, (double)total_bytes / (1024.0 * 1024.0),
           (unsigned long long)total_mismatches, (unsigned long long)total_elsewhere);
    return failed;
}
