/* ACPI soft-off through the FADT's PM1a control block. */
#ifndef PROBE_POWER_H
#define PROBE_POWER_H
#include "cpu.h"

/* Remembers where and what to write: (slp_typ << 10) | SLP_EN to pm1a_control_port. */
void power_configure(u16 pm1a_control_port, u8 slp_typ);
/* CPL3: prints PROBE poweroff, writes the register, and if the machine keeps running reports that
 * and halts for good. */
__attribute__((noreturn)) void power_off(void);
/* CPL0, exception path: same write without the protocol line, then halt. */
__attribute__((noreturn)) void power_off_after_crash(void);

#endif
