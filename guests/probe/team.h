/* Work shared by several CPUs at CPL3 (memtest.cpus=all). The BSP leads: it publishes a job, runs it
 * itself as member 0 and waits, bounded, until every other member has finished it. The other members
 * are the APs with CPU index 1..N-1 (smp.c); they wait for jobs at CPL3 and never return to CPL0, so
 * the BSP's power-off is what ends them. Synchronisation uses plain loads and stores (x86 keeps
 * stores in order), no locked read-modify-write at all. */
#ifndef PROBE_TEAM_H
#define PROBE_TEAM_H
#include "cpu.h"
#include "layout.h"

#define TEAM_LEADER BSP_CPU_INDEX

/* Runs on every member; members split the work between them by index. */
typedef void (*team_job)(u32 member, u32 member_count, const void *context);

/* BSP, before the first job: the team is CPUs 0..member_count-1. An AP with a higher index (one that
 * reported after smp_start_aps stopped waiting) stays idle. */
void team_form(u32 member_count);
u32 team_size(void);

/* AP entry at CPL3 (smp_start_aps's ap_user_entry): runs the published jobs until power-off. */
__attribute__((noreturn)) void team_member_main(u64 cpu_index);

/* BSP: runs job(member, team_size(), context) on every member that is not lost and returns when they
 * have all finished, or when the wait bound has expired; members still busy then are marked lost and
 * get no further jobs. The bound, counted from the end of the leader's own run: at least 30 s and at
 * least ten times as long as the leader's run (the members' parts are the same kind and size). */
void team_run(team_job job, const void *context);
bool team_member_lost(u32 member);

#endif
