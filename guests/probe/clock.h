/* Microsecond delays and bounded waits from the ACPI PM timer (3.579545 MHz, a frequency fixed by the
 * ACPI spec, unlike the TSC's). Without a working PM timer a crude spin loop stands in. */
#ifndef PROBE_CLOCK_H
#define PROBE_CLOCK_H
#include "cpu.h"

/* pm_timer_port 0: the FADT has no PM timer. */
void clock_init(u16 pm_timer_port, bool pm_timer_32bit);

struct stopwatch {
    u32 last_count;
    u64 elapsed_ticks;
};

void stopwatch_start(struct stopwatch *watch);
u64 stopwatch_elapsed_us(struct stopwatch *watch);
void clock_delay_us(u64 microseconds);

#endif
