/*
 * The C reference of `ssihv bench remote-fault`: uffd_reference.c with the page store in another process,
 * reached over TCP loopback. Before anything else it listens on 127.0.0.1 (an ephemeral port) and forks a page
 * server: the child holds every evicted page and answers, on one TCP connection with TCP_NODELAY,
 *   - FETCH (16-byte request: u32 op = 1, u32 0, u64 page) with the page's 4096 bytes (zeroes if never stored);
 *   - STORE (the 16-byte request with op = 2, then 4096 bytes) with the 16-byte request echoed (stored).
 * The parent is the VMM + handler of uffd_reference.c, except that:
 *   - evicting the oldest installed page (FIFO, when `budget` pages are resident) STOREs its bytes at the
 *     server and waits for the echo before MADV_DONTNEED (the bytes are home before the frame is reused);
 *   - a fault on an evicted page FETCHes it from the server, then UFFDIO_COPY.
 * One request outstanding at a time, the simplest correct order (store, then fetch): this is the floor that our
 * pager + ClusterPageStore + TcpNodeTransport, talking to a HomePageStore in another process, is measured against.
 *
 * Usage: uffd_remote_reference GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN
 * Writes the guest's per-touch cycle counts (u32, pages * passes) to RESULTS.BIN and prints key=value lines
 * (see main), including the round trips of fetches and stores and the time of UFFDIO_COPY while the guest ran.
 * Exit 0 on success, 1 on failure, 2 on bad arguments. Gives up after 120 s (alarm).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define PAGE 4096UL
#define LOW_BASE 0xE0000UL       /* code, parameters, results: never paged */
#define LOW_SIZE 0x20000UL
#define PARAMS_OFFSET 0xF00UL
#define RESULTS_OFFSET 0x1000UL
#define DATA_BASE 0x100000UL
#define PASS_PORT 0x10
#define POLL_MS 100
#define GIVE_UP_SECONDS 120
#define OP_FETCH 1
#define OP_STORE 2

struct request { uint32_t op, zero; uint64_t page; };

static uint8_t *data, *zero_page, *transfer; /* transfer: one page, fetched or being stored */
static int server; /* the connection to the page server */
static unsigned long pages, budget;
static int uffd;
static volatile int stopping, measuring = 1; /* measuring: the guest runs (not the read-back check) */
static uint8_t *resident, *stored;
static unsigned long *fifo, fifo_head, fifo_count;
static unsigned long faults, zero_fills, fetches, evictions;
/* While the guest runs: per fault, read() returned -> UFFDIO_COPY returned (the span our pager's metric covers);
 * per fetch and per store, request written -> reply read; per UFFDIO_COPY, the ioctl alone. */
struct samples { double *us; unsigned long count, capacity; };
static struct samples handle_us, fetch_us, store_us, copy_us;

static void die(const char *what) { perror(what); exit(1); }

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void record(struct samples *s, double us)
{
    if (measuring && s->count < s->capacity)
        s->us[s->count++] = us;
}

static void allocate(struct samples *s, unsigned long capacity)
{
    s->capacity = capacity;
    s->us = calloc(capacity, sizeof *s->us);
    if (!s->us) die("calloc");
}

static int read_all(int fd, void *buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, (char *)buffer + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

static void write_all(int fd, const void *buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, (const char *)buffer + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write");
        done += (size_t)n;
    }
}

static void no_delay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("setsockopt TCP_NODELAY");
}

/* The page server (child process): serves one connection until the VMM closes it. */
static void serve_pages(int listener, unsigned long page_count)
{
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) die("accept");
    close(listener);
    no_delay(fd);
    uint8_t *pages_home = mmap(NULL, page_count * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pages_home == MAP_FAILED) die("mmap store");
    struct request request;
    while (read_all(fd, &request, sizeof request) == 0) {
        if (request.page >= page_count) { fprintf(stderr, "page server: page %lu out of range\n", (unsigned long)request.page); exit(1); }
        uint8_t *slot = pages_home + request.page * PAGE;
        if (request.op == OP_FETCH)
            write_all(fd, slot, PAGE);
        else if (request.op == OP_STORE) {
            if (read_all(fd, slot, PAGE)) { fprintf(stderr, "page server: short store\n"); exit(1); }
            write_all(fd, &request, sizeof request);
        } else { fprintf(stderr, "page server: unknown op %u\n", request.op); exit(1); }
    }
    exit(0);
}

static void fetch(unsigned long page)
{
    struct request request = { .op = OP_FETCH, .page = page };
    double sent = now_us();
    write_all(server, &request, sizeof request);
    if (read_all(server, transfer, PAGE)) { fprintf(stderr, "uffd_remote_reference: the page server closed the connection\n"); exit(1); }
    record(&fetch_us, now_us() - sent);
}

static void store_page(unsigned long page, const uint8_t *bytes)
{
    struct request request = { .op = OP_STORE, .page = page }, echo;
    double sent = now_us();
    write_all(server, &request, sizeof request);
    write_all(server, bytes, PAGE);
    if (read_all(server, &echo, sizeof echo) || echo.page != page) { fprintf(stderr, "uffd_remote_reference: no store echo for page %lu\n", page); exit(1); }
    record(&store_us, now_us() - sent);
}

static void evict_oldest(void)
{
    unsigned long victim = fifo[fifo_head];
    fifo_head = (fifo_head + 1) % budget;
    fifo_count--;
    store_page(victim, data + victim * PAGE);
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
    if (stored[page])
        fetch(page);
    struct uffdio_copy copy = {
        .dst = (unsigned long)data + page * PAGE,
        .src = (unsigned long)(stored[page] ? transfer : zero_page),
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
}

static void *handler(void *unused)
{
    (void)unused;
    struct uffd_msg messages[64];
    while (!stopping) {
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
    return NULL;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints NAME_p50_us=... NAME_p99_us=... (nearest rank; 0 when empty). */
static void print_quantiles(const char *name, struct samples *s)
{
    qsort(s->us, s->count, sizeof *s->us, compare_doubles);
    double p50 = s->count ? s->us[(s->count - 1) / 2] : 0, p99 = s->count ? s->us[(size_t)(s->count * 0.99)] : 0;
    printf("%s_p50_us=%.2f %s_p99_us=%.2f\n", name, p50, name, p99);
}

/* TSC ticks per µs, measured against CLOCK_MONOTONIC over 200 ms (the guest reads the same TSC). */
static double tsc_per_us(void)
{
    double t0 = now_us();
    uint64_t c0 = __rdtsc();
    while (now_us() - t0 < 200000) {}
    return (double)(__rdtsc() - c0) / (now_us() - t0);
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: %s GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN\n", argv[0]); return 2; }
    pages = strtoul(argv[2], NULL, 10);
    budget = strtoul(argv[3], NULL, 10);
    unsigned long passes = strtoul(argv[4], NULL, 10);
    if (pages == 0 || budget == 0 || passes == 0 || RESULTS_OFFSET + pages * passes * 4 > LOW_SIZE) {
        fprintf(stderr, "uffd_remote_reference: bad PAGES/BUDGET_PAGES/PASSES\n");
        return 2;
    }
    alarm(GIVE_UP_SECONDS); /* default action: terminate; the benchmark reports the failure */

    /* The page server first, before any thread or KVM file exists: fork copies nothing of them. */
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0 };
    socklen_t address_length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1)
        || getsockname(listener, (struct sockaddr *)&address, &address_length)) die("listen on 127.0.0.1");
    pid_t page_server = fork();
    if (page_server < 0) die("fork");
    if (page_server == 0)
        serve_pages(listener, pages);
    close(listener);
    server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server < 0 || connect(server, (struct sockaddr *)&address, sizeof address)) die("connect to the page server");
    no_delay(server);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    uint8_t *low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    data = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    zero_page = aligned_alloc(PAGE, PAGE);
    transfer = aligned_alloc(PAGE, PAGE);
    if (low == MAP_FAILED || data == MAP_FAILED || !zero_page || !transfer) die("mmap");
    memset(zero_page, 0, PAGE);
    resident = calloc(pages, 1); stored = calloc(pages, 1); fifo = calloc(budget, sizeof *fifo);
    allocate(&handle_us, pages * passes * 2);
    allocate(&fetch_us, pages * passes * 2);
    allocate(&store_us, pages * passes * 2);
    allocate(&copy_us, pages * passes * 2);

    FILE *guest = fopen(argv[1], "rb");
    if (!guest) die(argv[1]);
    size_t code_size = fread(low, 1, PARAMS_OFFSET, guest);
    fclose(guest);
    if (code_size == 0) { fprintf(stderr, "uffd_remote_reference: empty guest\n"); return 2; }
    ((uint32_t *)(low + PARAMS_OFFSET))[0] = pages;
    ((uint32_t *)(low + PARAMS_OFFSET))[1] = passes;

    struct kvm_userspace_memory_region low_slot = { .slot = 0, .guest_phys_addr = LOW_BASE, .memory_size = LOW_SIZE, .userspace_addr = (unsigned long)low };
    struct kvm_userspace_memory_region data_slot = { .slot = 1, .guest_phys_addr = DATA_BASE, .memory_size = pages * PAGE, .userspace_addr = (unsigned long)data };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &low_slot) || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &data_slot)) die("KVM_SET_USER_MEMORY_REGION");

    uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0) die("userfaultfd");
    struct uffdio_api api = { .api = UFFD_API };
    if (ioctl(uffd, UFFDIO_API, &api)) die("UFFDIO_API");
    struct uffdio_register reg = { .range = { .start = (unsigned long)data, .len = pages * PAGE }, .mode = UFFDIO_REGISTER_MODE_MISSING };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg)) die("UFFDIO_REGISTER");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");
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

    double tsc_rate = tsc_per_us();
    pthread_t thread;
    if (pthread_create(&thread, NULL, handler, NULL)) die("pthread_create");

    double marks[64];
    unsigned long mark_count = 0;
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) { if (errno == EINTR || errno == EAGAIN) continue; die("KVM_RUN"); }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == PASS_PORT) {
            if (mark_count < 64) marks[mark_count++] = now_us();
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT) break;
        fprintf(stderr, "uffd_remote_reference: unexpected exit %u\n", run->exit_reason);
        return 1;
    }
    if (mark_count != passes + 1) { fprintf(stderr, "uffd_remote_reference: %lu pass marks, expected %lu\n", mark_count, passes + 1); return 1; }

    /* Word 1 of every page sums the pass counters; reading it faults evicted pages back through the handler. */
    measuring = 0; /* the guest has halted: every fault so far was the guest's */
    unsigned long guest_faults = faults, guest_zero_fills = zero_fills, guest_fetches = fetches, guest_evictions = evictions;
    unsigned long expected = passes * (passes + 1) / 2, wrong = 0;
    for (unsigned long page = 0; page < pages; page++)
        if (((volatile uint32_t *)(data + page * PAGE))[1] != expected)
            wrong++;
    stopping = 1;
    pthread_join(thread, NULL);
    close(server); /* the page server's read ends: it exits */
    int server_status;
    if (waitpid(page_server, &server_status, 0) != page_server || !WIFEXITED(server_status) || WEXITSTATUS(server_status) != 0) {
        fprintf(stderr, "uffd_remote_reference: the page server failed (status %d)\n", server_status);
        return 1;
    }

    FILE *results = fopen(argv[5], "wb");
    if (!results || fwrite(low + RESULTS_OFFSET, 4, pages * passes, results) != pages * passes || fclose(results)) die(argv[5]);
    printf("tsc_per_us=%.3f\n", tsc_rate);
    for (unsigned long pass = 0; pass < passes; pass++)
        printf("pass%lu_us=%.1f\n", pass, marks[pass + 1] - marks[pass]);
    printf("faults=%lu zero_fills=%lu fetches=%lu evictions=%lu wrong_pages=%lu\n", guest_faults, guest_zero_fills, guest_fetches, guest_evictions, wrong);
    print_quantiles("handle", &handle_us);
    print_quantiles("fetch", &fetch_us);
    print_quantiles("store", &store_us);
    print_quantiles("copy", &copy_us);
    return wrong ? 1 : 0;
}
