/*
 * The VMM half shared by the C references of `ssihv bench fault` (uffd_reference.c) and `ssihv bench
 * remote-fault` (uffd_remote_reference.c): their arguments, one KVM VM running fault_guest.S on one vCPU in
 * 32-bit protected mode, the userfaultfd registration of its paged region, the loop that reads fault messages,
 * the read-back check and the key=value lines both print. Their pager is fifo_pager.h; where they differ (where an
 * evicted page lives) stays in each reference.
 * With BENCH_TOUCHER=thread (`ssihv bench fault --toucher thread`, the default where /dev/kvm is missing) there is
 * no VM: a host thread runs the guest's loop over the same userfaultfd-registered region (touch_from_thread), so
 * the pager can be measured on a host without KVM, exactly as our side does it then.
 */
#ifndef SSIHV_FAULT_VMM_H
#define SSIHV_FAULT_VMM_H

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>
#include "bench_common.h"

#define PAGE 4096UL
#define LOW_BASE 0xE0000UL       /* code, parameters, results: never paged */
#define LOW_SIZE 0x20000UL
#define PARAMS_OFFSET 0xF00UL
#define RESULTS_OFFSET 0x1000UL
#define DATA_BASE 0x100000UL
#define PASS_PORT 0x10
#define POLL_MS 100
#define GIVE_UP_SECONDS 120
#define MAX_MARKS 64

/* Usage: PROGRAM GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN */
struct fault_arguments { const char *guest, *results; unsigned long pages, budget, passes; };

/* Exits 2 on bad arguments (naming `program`); otherwise arms the 120 s alarm (default action: terminate; the
 * benchmark reports the failure). */
static struct fault_arguments parse_fault_arguments(int argc, char **argv, const char *program)
{
    if (argc != 6) { fprintf(stderr, "usage: %s GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN\n", argv[0]); exit(2); }
    struct fault_arguments a = {
        .guest = argv[1], .results = argv[5],
        .pages = strtoul(argv[2], NULL, 10), .budget = strtoul(argv[3], NULL, 10), .passes = strtoul(argv[4], NULL, 10),
    };
    if (a.pages == 0 || a.budget == 0 || a.passes == 0 || RESULTS_OFFSET + a.pages * a.passes * 4 > LOW_SIZE) {
        fprintf(stderr, "%s: bad PAGES/BUDGET_PAGES/PASSES\n", program);
        exit(2);
    }
    alarm(GIVE_UP_SECONDS);
    return a;
}

/* BENCH_TOUCHER: "thread" (a host thread touches the pages), "vcpu" or unset (the guest under KVM); else exit 2. */
static int toucher_is_thread(const char *program)
{
    const char *value = getenv("BENCH_TOUCHER");
    if (!value || !*value || !strcmp(value, "vcpu")) return 0;
    if (!strcmp(value, "thread")) return 1;
    fprintf(stderr, "%s: BENCH_TOUCHER=%s: expected thread or vcpu\n", program, value);
    exit(2);
}

/* kvm and vm are -1 when a host thread touches the pages (no VM). */
struct fault_vm { int kvm, vm; uint8_t *low, *data; };

/* A VM whose slot 0 (LOW_BASE, never paged) holds the guest's code and parameters (pages, passes) and whose
 * slot 1 (DATA_BASE) is `data`: pages * PAGE of anonymous memory, to be registered with userfaultfd. */
static struct fault_vm create_fault_vm(const struct fault_arguments *a, const char *program)
{
    struct fault_vm f = { .kvm = -1, .vm = -1 };
    if (!toucher_is_thread(program)) {
        f.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (f.kvm < 0) die("/dev/kvm");
        f.vm = ioctl(f.kvm, KVM_CREATE_VM, 0);
        if (f.vm < 0) die("KVM_CREATE_VM");
    }
    f.low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f.data = mmap(NULL, a->pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f.low == MAP_FAILED || f.data == MAP_FAILED) die("mmap");

    FILE *guest = fopen(a->guest, "rb");
    if (!guest) die(a->guest);
    size_t code_size = fread(f.low, 1, PARAMS_OFFSET, guest);
    fclose(guest);
    if (code_size == 0) { fprintf(stderr, "%s: empty guest\n", program); exit(2); }
    ((uint32_t *)(f.low + PARAMS_OFFSET))[0] = a->pages;
    ((uint32_t *)(f.low + PARAMS_OFFSET))[1] = a->passes;

    if (f.vm < 0) return f;
    struct kvm_userspace_memory_region low_slot = { .slot = 0, .guest_phys_addr = LOW_BASE, .memory_size = LOW_SIZE, .userspace_addr = (unsigned long)f.low };
    struct kvm_userspace_memory_region data_slot = { .slot = 1, .guest_phys_addr = DATA_BASE, .memory_size = a->pages * PAGE, .userspace_addr = (unsigned long)f.data };
    if (ioctl(f.vm, KVM_SET_USER_MEMORY_REGION, &low_slot) || ioctl(f.vm, KVM_SET_USER_MEMORY_REGION, &data_slot)) die("KVM_SET_USER_MEMORY_REGION");
    return f;
}

/* A userfaultfd (non-blocking) with [start, start + length) registered for missing-page faults. */
static int register_missing(uint8_t *start, unsigned long length)
{
    int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0) die("userfaultfd");
    struct uffdio_api api = { .api = UFFD_API };
    if (ioctl(uffd, UFFDIO_API, &api)) die("UFFDIO_API");
    struct uffdio_register reg = { .range = { .start = (unsigned long)start, .len = length }, .mode = UFFDIO_REGISTER_MODE_MISSING };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg)) die("UFFDIO_REGISTER");
    return uffd;
}

/* The vCPU in 32-bit protected mode (flat segments, paging off) at the guest's first instruction. */
static int create_vcpu(const struct fault_vm *f, struct kvm_run **run)
{
    int vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(f->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (*run == MAP_FAILED) die("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs)) die("KVM_GET_SREGS");
    struct kvm_segment code = { .base = 0, .limit = 0xFFFFFFFF, .selector = 8, .type = 11, .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1 };
    struct kvm_segment flat = code;
    flat.selector = 16; flat.type = 3;
    sregs.cs = code; sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat;
    sregs.cr0 = 0x11; /* PE | ET, paging off */
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs)) die("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = LOW_BASE, .rflags = 2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs)) die("KVM_SET_REGS");
    return vcpu;
}

/* Pins the calling thread to the CPU that environment variable `name` names, if it is set: `ssihv bench fault
 * --pin` places our vCPU and pager threads and these two threads on the same CPUs (BENCH_VCPU_CPU,
 * BENCH_HANDLER_CPU); `bench remote-fault` also places its home process and the page server alike
 * (BENCH_SERVER_CPU). */
static void pin_from_environment(const char *name)
{
    const char *value = getenv(name);
    if (!value || !*value) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(value), &set);
    if (sched_setaffinity(0, sizeof set, &set)) die(name);
}

/* The free-frame target of our pager (BENCH_FREE_FRAMES, 0 when unset), below `budget`: after serving a fault
 * (its UFFDIO_COPY has woken the vCPU), the handler evicts until that many frames are free, as our pager evicts
 * ahead, so that the next fault finds a free frame and waits for no write-back. */
static unsigned long free_frames_from_environment(unsigned long budget)
{
    const char *value = getenv("BENCH_FREE_FRAMES");
    unsigned long frames = value && *value ? strtoul(value, NULL, 10) : 0;
    return frames < budget ? frames : budget - 1;
}

/* The handler thread's loop until *stopping: every page fault message goes to serve with the time its read()
 * returned (the start of the span our pager's metric covers). */
static void read_faults(int uffd, volatile int *stopping, void (*serve)(unsigned long address, double read_at))
{
    struct uffd_msg messages[64];
    pin_from_environment("BENCH_HANDLER_CPU");
    while (!*stopping) {
        struct pollfd p = { .fd = uffd, .events = POLLIN };
        int ready = poll(&p, 1, POLL_MS);
        if (ready < 0 && errno != EINTR) die("poll");
        if (ready <= 0) continue;
        ssize_t n = read(uffd, messages, sizeof messages);
        if (n < 0) { if (errno == EAGAIN || errno == EINTR) continue; die("read uffd"); }
        double read_at = now_us();
        for (size_t i = 0; i < (size_t)n / sizeof messages[0]; i++)
            if (messages[i].event == UFFD_EVENT_PAGEFAULT)
                serve(messages[i].arg.pagefault.address, read_at);
    }
}

/* Runs the vCPU until the guest halts, stamping marks[] at every pass mark (an OUT to PASS_PORT). Exits 1 on
 * any other exit or when the guest did not mark passes + 1 times. */
static void run_guest(int vcpu, struct kvm_run *run, unsigned long passes, double marks[MAX_MARKS], const char *program)
{
    unsigned long mark_count = 0;
    pin_from_environment("BENCH_VCPU_CPU");
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) { if (errno == EINTR || errno == EAGAIN) continue; die("KVM_RUN"); }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == PASS_PORT) {
            if (mark_count < MAX_MARKS) marks[mark_count++] = now_us();
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT) break;
        fprintf(stderr, "%s: unexpected exit %u\n", program, run->exit_reason);
        exit(1);
    }
    if (mark_count != passes + 1) { fprintf(stderr, "%s: %lu pass marks, expected %lu\n", program, mark_count, passes + 1); exit(1); }
}

/* now_us's clock in whole nanoseconds: the thread toucher's per-touch timings. */
static unsigned long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* fault_guest.S's loop on this host thread instead of a vCPU (BENCH_TOUCHER=thread), pinned where the vCPU would
 * be: pass after pass, the first write to each page in order, timed with CLOCK_MONOTONIC in ns (u32, into the low
 * area's results as the guest leaves its rdtsc cycles), then the pass counter added to the page's word 1. */
static void touch_from_thread(uint8_t *low, uint8_t *data, unsigned long pages, unsigned long passes, double marks[MAX_MARKS])
{
    uint32_t *results = (uint32_t *)(low + RESULTS_OFFSET);
    unsigned long mark_count = 0;
    pin_from_environment("BENCH_VCPU_CPU");
    for (unsigned long pass = passes; pass > 0; pass--) {
        if (mark_count < MAX_MARKS) marks[mark_count++] = now_us();
        for (unsigned long page = 0; page < pages; page++) {
            volatile uint32_t *word = (volatile uint32_t *)(data + page * PAGE);
            unsigned long long before = now_ns();
            word[0] = (uint32_t)before; /* the first access to the page in this pass: a write fault */
            *results++ = (uint32_t)(now_ns() - before);
            word[1] += pass;
        }
    }
    if (mark_count < MAX_MARKS) marks[mark_count] = now_us();
}

/* Word 1 of every page sums the pass counters; reading it faults evicted pages back through the handler. */
static unsigned long count_wrong_pages(const uint8_t *data, unsigned long pages, unsigned long passes)
{
    unsigned long expected = passes * (passes + 1) / 2, wrong = 0;
    for (unsigned long page = 0; page < pages; page++)
        if (((volatile const uint32_t *)(data + page * PAGE))[1] != expected)
            wrong++;
    return wrong;
}

/* The guest's per-touch cycle counts (u32, pages * passes), as it left them in the low slot. */
static void write_results(const struct fault_arguments *a, const uint8_t *low)
{
    FILE *results = fopen(a->results, "wb");
    if (!results || fwrite(low + RESULTS_OFFSET, 4, a->pages * a->passes, results) != a->pages * a->passes || fclose(results)) die(a->results);
}

/* What the guest did while it ran, before the read-back check added faults of its own. */
struct guest_counts { unsigned long faults, zero_fills, fetches, evictions; };

static void print_guest_figures(double tsc_rate, const double marks[MAX_MARKS], unsigned long passes, struct guest_counts counts, unsigned long wrong)
{
    printf("tsc_per_us=%.3f\n", tsc_rate);
    for (unsigned long pass = 0; pass < passes; pass++)
        printf("pass%lu_us=%.1f\n", pass, marks[pass + 1] - marks[pass]);
    printf("faults=%lu zero_fills=%lu fetches=%lu evictions=%lu wrong_pages=%lu\n", counts.faults, counts.zero_fills, counts.fetches, counts.evictions, wrong);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* TSC ticks per µs, measured against CLOCK_MONOTONIC over 200 ms (the guest reads the same TSC). */
static double tsc_per_us(void)
{
    double t0 = now_us();
    uint64_t c0 = __rdtsc();
    while (now_us() - t0 < 200000) {}
    return (double)(__rdtsc() - c0) / (now_us() - t0);
}

#endif
