/*
 * The C reference of `ssihv bench fault`: the smallest VMM + userfaultfd pager that can serve the guest of
 * fault_guest.S. One KVM VM, one vCPU in 32-bit protected mode (fault_vmm.h), its paged region served by
 * fifo_pager.h's handler thread with the page store in this process: an evicted page's 4 KiB are copied to an
 * anonymous mapping and copied back from it.
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
#include "fifo_pager.h"

static uint8_t *store;

static void keep(unsigned long page, const uint8_t *bytes) { memcpy(store + page * PAGE, bytes, PAGE); }

static const uint8_t *give_back(unsigned long page) { return store + page * PAGE; }

int main(int argc, char **argv)
{
    struct fault_arguments arguments = parse_fault_arguments(argc, argv, "uffd_reference");
    unsigned long passes = arguments.passes;

    struct fault_vm vm = create_fault_vm(&arguments, "uffd_reference");
    init_pager(&arguments, &vm, (struct page_store){ keep, give_back });
    store = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (store == MAP_FAILED) die("mmap");

    struct paged_run r = run_paged_guest(&vm, passes, "uffd_reference");

    write_results(&arguments, vm.low);
    qsort(handle_us.us, handle_us.count, sizeof *handle_us.us, compare_doubles);
    print_guest_figures(r.tsc_rate, r.marks, passes, r.guest, r.wrong);
    unsigned long handled = handle_us.count;
    printf("handle_p50_us=%.2f handle_p99_us=%.2f\n", handled ? handle_us.us[handled / 2] : 0, handled ? handle_us.us[(size_t)(handled * 0.99)] : 0);
    return r.wrong ? 1 : 0;
}
