/*
 * The C reference of `ssihv bench fault`: the smallest VMM + userfaultfd pager that can serve the guest of
 * fault_guest.S. One KVM VM, one vCPU in 32-bit protected mode; the paged region is registered with
 * UFFDIO_REGISTER_MODE_MISSING and served by one handler thread:
 *   - a fault on a page never seen: UFFDIO_COPY of a zero page (it wakes the vCPU);
 *   - a fault on a page that was evicted: UFFDIO_COPY of its bytes from the store;
 *   - before installing, when `budget` pages are resident: evict the oldest installed page (FIFO): copy its
 *     4 KiB to the store, MADV_DONTNEED it;
 *   - with BENCH_FREE_FRAMES (the bench passes our pager's free-frame target): after installing (the vCPU is
 *     woken), evict ahead until that many frames are free, as our pager does.
 * No write protection and no CLOCK: with one vCPU, blocked while its fault is served, nothing can write a page
 * being evicted on the fault path; one evicted ahead is the oldest, which fault_guest.S (touching pages in
 * order) does not write again until much later (the read-back check would show a lost write). So this is the
 * floor that a general pager (ours, which write-protects every victim) is measured against.
 *
 * Usage: uffd_reference GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN
 * Writes the guest's per-touch cycle counts (u32, pages * passes) to RESULTS.BIN and prints key=value lines
 * (see main). Exit 0 on success, 1 on failure, 2 on bad arguments. Gives up after 120 s (alarm).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "fault_vmm.h"

static uint8_t *data, *store, *zero_page;
static unsigned long pages, budget;
static int uffd;
static volatile int stopping, measuring = 1; /* measuring: the guest runs (not the read-back check) */
static uint8_t *resident, *stored;
static unsigned long *fifo, fifo_head, fifo_count, free_frames;
static unsigned long faults, zero_fills, fetches, evictions;
static double *handle_us; /* per fault: read() returned -> UFFDIO_COPY returned (the same span our pager's metric covers) */
static unsigned long handled, handle_capacity;

static void evict_oldest(void)
{
    unsigned long victim = fifo[fifo_head];
    fifo_head = (fifo_head + 1) % budget;
    fifo_count--;
    memcpy(store + victim * PAGE, data + victim * PAGE, PAGE);
    if (madvise(data + victim * PAGE, PAGE, MADV_DONTNEED))
        die("madvise");
    resident[victim] = 0;
    stored[victim] = 1;
    evictions++;
}

static void serve(unsigned long address, double read_at)
{
    unsigned long page = (address - (unsigned long)data) / PAGE;
    faults++;
    if (resident[page]) { /* stale: already installed, just wake */
        struct uffdio_range range = { .start = (unsigned long)data + page * PAGE, .len = PAGE };
        if (ioctl(uffd, UFFDIO_WAKE, &range))
            die("UFFDIO_WAKE");
        return;
    }
    if (fifo_count == budget)
        evict_oldest();
    struct uffdio_copy copy = {
        .dst = (unsigned long)data + page * PAGE,
        .src = (unsigned long)(stored[page] ? store + page * PAGE : zero_page),
        .len = PAGE,
    };
    if (stored[page]) fetches++; else zero_fills++; /* before the copy: it wakes the vCPU, which may halt at once */
    if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
        die("UFFDIO_COPY");
    resident[page] = 1;
    fifo[(fifo_head + fifo_count++) % budget] = page;
    if (measuring && handled < handle_capacity)
        handle_us[handled++] = now_us() - read_at;
    while (fifo_count > budget - free_frames) /* evicting ahead, after the wake (free_frames_from_environment) */
        evict_oldest();
}

static void *handler(void *unused)
{
    (void)unused;
    read_faults(uffd, &stopping, serve);
    return NULL;
}

int main(int argc, char **argv)
{
    struct fault_arguments arguments = parse_fault_arguments(argc, argv, "uffd_reference");
    pages = arguments.pages;
    budget = arguments.budget;
    free_frames = free_frames_from_environment(budget);
    unsigned long passes = arguments.passes;

    struct fault_vm vm = create_fault_vm(&arguments, "uffd_reference");
    data = vm.data;
    store = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    zero_page = aligned_alloc(PAGE, PAGE);
    if (store == MAP_FAILED || !zero_page) die("mmap");
    memset(zero_page, 0, PAGE);
    resident = calloc(pages, 1); stored = calloc(pages, 1); fifo = calloc(budget, sizeof *fifo);
    handle_capacity = pages * passes * 2;
    handle_us = calloc(handle_capacity, sizeof *handle_us);

    uffd = register_missing(data, pages * PAGE);
    struct kvm_run *run;
    int vcpu = create_vcpu(&vm, &run);

    double tsc_rate = tsc_per_us();
    pthread_t thread;
    if (pthread_create(&thread, NULL, handler, NULL)) die("pthread_create");

    double marks[MAX_MARKS];
    run_guest(vcpu, run, passes, marks, "uffd_reference");

    measuring = 0; /* the guest has halted: every fault so far was the guest's */
    struct guest_counts guest = { faults, zero_fills, fetches, evictions };
    unsigned long wrong = count_wrong_pages(data, pages, passes);
    stopping = 1;
    pthread_join(thread, NULL);

    write_results(&arguments, vm.low);
    qsort(handle_us, handled, sizeof *handle_us, compare_doubles);
    print_guest_figures(tsc_rate, marks, passes, guest, wrong);
    printf("handle_p50_us=%.2f handle_p99_us=%.2f\n", handled ? handle_us[handled / 2] : 0, handled ? handle_us[(size_t)(handled * 0.99)] : 0);
    return wrong ? 1 : 0;
}
