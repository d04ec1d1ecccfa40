/* Application processor start-up with INIT-SIPI-SIPI through the xAPIC ICR, and the per-CPU report. */
#ifndef PROBE_SMP_H
#define PROBE_SMP_H
#include "acpi.h"
#include "numa.h"

/* CPL3 on the BSP: prints the BSP's own PROBE cpu line, starts every other enabled MADT CPU, waits
 * (bounded) for them to report, then prints PROBE cpus. */
void smp_start_aps(const struct madt_info *madt, const struct numa_topology *topology);

/* CPL0 on each AP, entered from ap_trampoline.S on the AP's own stack. */
__attribute__((noreturn)) void ap_main(void);

#endif
