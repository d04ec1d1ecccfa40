/*
 * The pager half shared by the C references of `ssihv bench fault` (uffd_reference.c) and `ssihv bench
 * remote-fault` (uffd_remote_reference.c), on fault_vmm.h's VM. The paged region is registered with
 * UFFDIO_REGISTER_MODE_MISSING and served by one handler thread:
 *   - a fault on a page never seen: UFFDIO_COPY of a zero page (it wakes the vCPU);
 *   - a fault on a page that was evicted: UFFDIO_COPY of the bytes its page store gives back;
 *   - before installing, when `budget` pages are resident: evict the oldest installed page (FIFO): its bytes go
 *     to the page store, then MADV_DONTNEED;
 *   - with BENCH_FREE_FRAMES (the bench passes our pager's free-frame target): after installing (the vCPU is
 *     woken), evict ahead until that many frames are free, as our pager does.
 * Where an evicted page lives (struct page_store) stays in each reference.
 */
#ifndef SSIHV_FIFO_PAGER_H
#define SSIHV_FIFO_PAGER_H

#include <pthread.h>
#include "fault_vmm.h"

struct page_store {
    /* Keeps the bytes of the page being evicted; returns once they are kept (its frame is dropped next). */
    void (*keep)(unsigned long page, const uint8_t *bytes);
    /* The bytes of an evicted page, valid until the next call. */
    const uint8_t *(*give_back)(unsigned long page);
};

/* Durations in microseconds, recorded while the guest runs, up to capacity (none when never allocated). */
struct samples { double *us; unsigned long count, capacity; };

static struct page_store page_store;
static uint8_t *data, *zero_page;
static unsigned long pages, budget;
static int uffd;
static volatile int stopping, measuring = 1; /* measuring: the guest runs (not the read-back check) */
static uint8_t *resident, *stored;
static unsigned long *fifo, fifo_head, fifo_count, free_frames;
static unsigned long faults, zero_fills, fetches, evictions;
/* Per fault: read() returned -> UFFDIO_COPY returned (the span our pager's metric covers); per UFFDIO_COPY, the
 * ioctl alone. */
static struct samples handle_us, copy_us;

static void record(struct samples *s, double us)
{
    if (measuring && s->count < s->capacity)
        s->us[s->count++] = us;
}

/* Room for one sample per fault the guest can cause: every page faulted and evicted on every pass. */
static void allocate_samples(struct samples *s, unsigned long passes)
{
    s->capacity = pages * passes * 2;
    s->us = calloc(s->capacity, sizeof *s->us);
    if (!s->us) die("calloc");
}

static void evict_oldest(void)
{
    unsigned long victim = fifo[fifo_head];
    fifo_head = (fifo_head + 1) % budget;
    fifo_count--;
    page_store.keep(victim, data + victim * PAGE);
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
        .src = (unsigned long)(stored[page] ? page_store.give_back(page) : zero_page),
        .len = PAGE,
    };
    if (stored[page]) fetches++; else zero_fills++; /* before the copy: it wakes the vCPU, which may halt at once */
    double copy_at = now_us();
    if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
        die("UFFDIO_COPY");
    double copied_at = now_us();
    resident[page] = 1;
    fifo[(fifo_head + fifo_count++) % budget] = page;
    record(&copy_us, copied_at - copy_at);
    record(&handle_us, copied_at - read_at);
    while (fifo_count > budget - free_frames) /* evicting ahead, after the wake (free_frames_from_environment) */
        evict_oldest();
}

static void *handler(void *unused)
{
    (void)unused;
    read_faults(uffd, &stopping, serve);
    return NULL;
}

/* The pager's state for the VM's paged region; handle_us always, the other samples as the reference allocates. */
static void init_pager(const struct fault_arguments *arguments, const struct fault_vm *vm, struct page_store store)
{
    page_store = store;
    pages = arguments->pages;
    budget = arguments->budget;
    free_frames = free_frames_from_environment(budget);
    data = vm->data;
    zero_page = aligned_alloc(PAGE, PAGE);
    if (!zero_page) die("mmap");
    memset(zero_page, 0, PAGE);
    resident = calloc(pages, 1); stored = calloc(pages, 1); fifo = calloc(budget, sizeof *fifo);
    allocate_samples(&handle_us, arguments->passes);
}

struct paged_run { double tsc_rate; double marks[MAX_MARKS]; struct guest_counts guest; unsigned long wrong; };

/* Runs the guest (or, without a VM, the thread toucher) with its memory served by the handler thread, then checks
 * every page's bytes. */
static struct paged_run run_paged_guest(struct fault_vm *vm, unsigned long passes, const char *program)
{
    struct paged_run r;
    uffd = register_missing(data, pages * PAGE);
    int on_thread = vm->vm < 0;
    struct kvm_run *run = NULL;
    int vcpu = on_thread ? -1 : create_vcpu(vm, &run);

    /* The thread toucher times in ns: 1000 of its ticks per µs. */
    r.tsc_rate = on_thread ? 1000 : tsc_per_us();
    pthread_t thread;
    if (pthread_create(&thread, NULL, handler, NULL)) die("pthread_create");

    if (on_thread)
        touch_from_thread(vm->low, data, pages, passes, r.marks);
    else
        run_guest(vcpu, run, passes, r.marks, program);

    measuring = 0; /* the guest has halted: every fault so far was the guest's */
    r.guest = (struct guest_counts){ faults, zero_fills, fetches, evictions };
    r.wrong = count_wrong_pages(data, pages, passes);
    stopping = 1;
    pthread_join(thread, NULL);
    return r;
}

#endif
