/* Command-line options (hvm_start_info cmdline), space separated:
 *   memtest=on|off      run the memory workload (default on)
 *   memtest.pages=N     test at most N pages per node (default: all)
 *   memtest.cpus=1|all  run the memory workload on the BSP alone (default) or on every CPU at once
 * Other words are ignored, so a VMM may pass its own. */
#ifndef PROBE_OPTIONS_H
#define PROBE_OPTIONS_H
#include "cpu.h"

#define MEMTEST_ALL_PAGES (~0ULL)

struct probe_options {
    bool memtest_enabled;
    u64 memtest_page_limit;     /* MEMTEST_ALL_PAGES unless memtest.pages was given */
    bool memtest_on_all_cpus;   /* memtest.cpus=all */
};

/* Prints a PROBE error line for each malformed option and keeps the default for it. */
struct probe_options options_parse(const char *cmdline);

#endif
