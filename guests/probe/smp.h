/* Application processor start-up with INIT-SIPI-SIPI through the xAPIC ICR, and the per-CPU report. */
#ifndef PROBE_SMP_H
#define PROBE_SMP_H
#include "acpi.h"
#include "numa.h"

/* CPL3 on the BSP: prints the BSP's own PROBE cpu line, starts every other enabled MADT CPU, waits
 * (bounded) for them to report, then prints PROBE cpus and returns its "online" count. Each AP, once
 * it has reported, halts at CPL0 if ap_user_entry is NULL; otherwise it loads its own TSS and runs
 * ap_user_entry(cpu_index) at CPL3 on its own user stack. CPU indices: BSP 0, APs 1, 2, ... in the
 * order they report; an AP reporting after the wait gets an index >= the returned count. */
u32 smp_start_aps(const struct madt_info *madt, const struct numa_topology *topology,
                  void (*ap_user_entry)(u64 cpu_index));

/* The LAPIC ID of a CPU that has reported (cpu_index < smp_start_aps's count). */
u32 smp_apic_id(u32 cpu_index);

/* CPL0 on each AP, entered from ap_trampoline.S on the AP's own kernel stack (kernel_stack_top is
 * its top, reused as RSP0 if the AP goes to CPL3). */
__attribute__((noreturn)) void ap_main(u64 kernel_stack_top);

#endif
