#include "team.h"
#include "clock.h"

#define MEMBER_MIN_WAIT_US 30000000ULL
#define MEMBER_TIME_FACTOR 10
/* Under kvm_pvm a PM-timer read from CPL3 traps to CPL0 (tens of us), so the wait polls it only this
 * often; often enough still that a 24-bit timer (wraps every 4.7 s) is never missed a whole wrap. */
#define SPINS_PER_CLOCK_QUERY 4096

/* Published by the leader: the job and its context first, then the generation that announces them. */
static team_job published_job;
static const void *published_context;
static volatile u32 published_generation;
static volatile u32 member_count;
/* The last generation each member completed; written only by that member. */
static volatile u32 finished_generation[MAX_CPUS];
/* Set by the leader for a member that missed a deadline. The member checks it before each job, so one
 * that was only slow does not run a later job with stale assumptions about who did what. */
static volatile bool lost[MAX_CPUS];

static inline void compiler_barrier(void) { __asm__ volatile("" ::: "memory"); }

void team_form(u32 count) { member_count = count; }

u32 team_size(void) { return member_count; }

bool team_member_lost(u32 member) { return lost[member]; }

void team_member_main(u64 cpu_index)
{
    u32 member = (u32)cpu_index;
    u32 seen = 0;
    for (;;) {
        /* Idle until the leader publishes; unbounded on purpose, the leader's power-off ends it. */
        while (published_generation == seen)
            cpu_relax();
        seen = published_generation;
        compiler_barrier();     /* read the job only after the generation that announced it */
        if (member >= member_count || lost[member])
            continue;
        published_job(member, member_count, published_context);
        compiler_barrier();     /* the job's results are stored before it is reported finished */
        finished_generation[member] = seen;
    }
}

static bool all_members_finished(u32 generation)
{
    for (u32 member = 0; member < member_count; member++)
        if (member != TEAM_LEADER && !lost[member] && finished_generation[member] != generation)
            return false;
    return true;
}

/* The proportional part is counted in TSC cycles, so no TSC frequency is assumed; the minimum in
 * PM-timer time. */
static void wait_for_members(u32 generation, u64 leader_cycles)
{
    struct stopwatch watch;
    stopwatch_start(&watch);
    u64 wait_start = rdtsc_ordered();
    for (u32 spins = 1; !all_members_finished(generation); spins++) {
        if (spins % SPINS_PER_CLOCK_QUERY == 0) {
            bool waited_minimum = stopwatch_elapsed_us(&watch) >= MEMBER_MIN_WAIT_US;
            if (waited_minimum && rdtsc_ordered() - wait_start >= leader_cycles * MEMBER_TIME_FACTOR)
                break;
        }
        cpu_relax();
    }
    for (u32 member = 0; member < member_count; member++)
        if (member != TEAM_LEADER && finished_generation[member] != generation)
            lost[member] = true;
}

void team_run(team_job job, const void *context)
{
    published_job = job;
    published_context = context;
    compiler_barrier();
    u32 generation = published_generation + 1;
    published_generation = generation;

    u64 leader_start = rdtsc_ordered();
    job(TEAM_LEADER, member_count, context);
    wait_for_members(generation, rdtsc_ordered() - leader_start);
    compiler_barrier();     /* the members' results are read only after they reported finished */
}
