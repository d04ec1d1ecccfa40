#include "clock.h"

#define PM_TIMER_HZ 3579545ULL
#define PM_TIMER_24BIT_MASK 0xFFFFFFu
/* A timer that reads the same value this many times in a row is taken as absent. */
#define PM_TIMER_PROBE_READS 1000
/* Fallback without a PM timer: each stopwatch query spins this long and counts it as this many
 * microseconds. Only an order of magnitude: used for INIT/SIPI spacing and the AP wait bound. */
#define FALLBACK_SPINS_PER_QUERY 1000
#define FALLBACK_US_PER_QUERY 10

static u16 timer_port;
static u32 timer_mask;

void clock_init(u16 pm_timer_port, bool pm_timer_32bit)
{
    timer_port = 0;
    if (pm_timer_port == 0)
        return;
    u32 mask = pm_timer_32bit ? 0xFFFFFFFFu : PM_TIMER_24BIT_MASK;
    u32 first = inl(pm_timer_port) & mask;
    for (u32 i = 0; i < PM_TIMER_PROBE_READS; i++) {
        if ((inl(pm_timer_port) & mask) != first) {
            timer_port = pm_timer_port;
            timer_mask = mask;
            return;
        }
    }
}

void stopwatch_start(struct stopwatch *watch)
{
    watch->elapsed_ticks = 0;
    watch->last_count = timer_port != 0 ? inl(timer_port) & timer_mask : 0;
}

/* Accumulates wrapped differences, so a 24-bit timer (wraps every 4.7 s) can time long waits as long
 * as it is queried at least once per wrap. */
u64 stopwatch_elapsed_us(struct stopwatch *watch)
{
    if (timer_port == 0) {
        for (u32 i = 0; i < FALLBACK_SPINS_PER_QUERY; i++)
            cpu_relax();
        watch->elapsed_ticks += FALLBACK_US_PER_QUERY;
        return watch->elapsed_ticks;
    }
    u32 now = inl(timer_port) & timer_mask;
    watch->elapsed_ticks += (now - watch->last_count) & timer_mask;
    watch->last_count = now;
    return watch->elapsed_ticks * 1000000ULL / PM_TIMER_HZ;
}

void clock_delay_us(u64 microseconds)
{
    struct stopwatch watch;
    stopwatch_start(&watch);
    while (stopwatch_elapsed_us(&watch) < microseconds)
        cpu_relax();
}
