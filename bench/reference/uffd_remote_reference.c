/*
 * The C reference of `ssihv bench remote-fault`: uffd_reference.c with the page store in another process,
 * reached over TCP loopback. Before anything else it listens on 127.0.0.1 (an ephemeral port) and forks a page
 * server: the child holds every evicted page and answers, on one TCP connection with TCP_NODELAY,
 *   - FETCH (16-byte request: u32 op = 1, u32 0, u64 page) with the page's 4096 bytes (zeroes if never stored);
 *   - STORE (the 16-byte request with op = 2, then 4096 bytes) with the 16-byte request echoed (stored).
 * The parent is the VMM (fault_vmm.h) + pager (fifo_pager.h) of uffd_reference.c, with this page store:
 *   - evicting the oldest installed page (FIFO) STOREs its bytes at the server and waits for the echo before
 *     MADV_DONTNEED (the bytes are home before the frame is reused);
 *   - a fault on an evicted page FETCHes it from the server, then UFFDIO_COPY.
 * One request outstanding at a time. With BENCH_FREE_FRAMES (the bench passes our pager's free-frame target) the
 * handler evicts ahead after each fault's UFFDIO_COPY, as our pager does, so a fault waits for its fetch alone;
 * without it, a fault on a full budget stores the victim and then fetches (store, then fetch). This is the floor
 * that our pager + ClusterPageStore + TcpNodeTransport, talking to a HomePageStore in another process, is
 * measured against.
 *
 * Usage: uffd_remote_reference GUEST.BIN PAGES BUDGET_PAGES PASSES RESULTS.BIN
 * Writes the guest's per-touch cycle counts (u32, pages * passes) to RESULTS.BIN and prints key=value lines
 * (see main), including the round trips of fetches and stores and the time of UFFDIO_COPY while the guest ran.
 * Exit 0 on success, 1 on failure, 2 on bad arguments. Gives up after 120 s (alarm).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sys/wait.h>
#include "fifo_pager.h"
#include "tcp_stream.h"

#define OP_FETCH 1
#define OP_STORE 2

struct request { uint32_t op, zero; uint64_t page; };

static uint8_t *transfer; /* one page, fetched */
static int server; /* the connection to the page server */
/* While the guest runs: per fetch and per store, request written -> reply read. */
static struct samples fetch_us, store_us;

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

static const uint8_t *fetch(unsigned long page)
{
    struct request request = { .op = OP_FETCH, .page = page };
    double sent = now_us();
    write_all(server, &request, sizeof request);
    if (read_all(server, transfer, PAGE)) { fprintf(stderr, "uffd_remote_reference: the page server closed the connection\n"); exit(1); }
    record(&fetch_us, now_us() - sent);
    return transfer;
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

/* Prints NAME_p50_us=... NAME_p99_us=... (nearest rank; 0 when empty). */
static void print_quantiles(const char *name, struct samples *s)
{
    qsort(s->us, s->count, sizeof *s->us, compare_doubles);
    double p50 = s->count ? s->us[(s->count - 1) / 2] : 0, p99 = s->count ? s->us[(size_t)(s->count * 0.99)] : 0;
    printf("%s_p50_us=%.2f %s_p99_us=%.2f\n", name, p50, name, p99);
}

int main(int argc, char **argv)
{
    struct fault_arguments arguments = parse_fault_arguments(argc, argv, "uffd_remote_reference");
    unsigned long passes = arguments.passes;

    /* The page server first, before any thread or KVM file exists: fork copies nothing of them. */
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0 };
    socklen_t address_length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1)
        || getsockname(listener, (struct sockaddr *)&address, &address_length)) die("listen on 127.0.0.1");
    pid_t page_server = fork();
    if (page_server < 0) die("fork");
    if (page_server == 0) {
        pin_from_environment("BENCH_SERVER_CPU"); /* single-threaded here: the whole page server runs there */
        serve_pages(listener, arguments.pages);
    }
    close(listener);
    server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server < 0 || connect(server, (struct sockaddr *)&address, sizeof address)) die("connect to the page server");
    no_delay(server);

    struct fault_vm vm = create_fault_vm(&arguments, "uffd_remote_reference");
    init_pager(&arguments, &vm, (struct page_store){ store_page, fetch });
    transfer = aligned_alloc(PAGE, PAGE);
    if (!transfer) die("mmap");
    allocate_samples(&fetch_us, passes);
    allocate_samples(&store_us, passes);
    allocate_samples(&copy_us, passes);

    struct paged_run r = run_paged_guest(&vm, passes, "uffd_remote_reference");
    close(server); /* the page server's read ends: it exits */
    int server_status;
    if (waitpid(page_server, &server_status, 0) != page_server || !WIFEXITED(server_status) || WEXITSTATUS(server_status) != 0) {
        fprintf(stderr, "uffd_remote_reference: the page server failed (status %d)\n", server_status);
        return 1;
    }

    write_results(&arguments, vm.low);
    print_guest_figures(r.tsc_rate, r.marks, passes, r.guest, r.wrong);
    print_quantiles("handle", &handle_us);
    print_quantiles("fetch", &fetch_us);
    print_quantiles("store", &store_us);
    print_quantiles("copy", &copy_us);
    return r.wrong ? 1 : 0;
}
