/* COM1 output and the console lock that keeps PROBE lines from different CPUs whole. */
#ifndef PROBE_SERIAL_H
#define PROBE_SERIAL_H
#include "cpu.h"

void serial_init(void);
void serial_write_char(char c);

/* xchg-based spinlock (no cmpxchg16b under kvm_pvm). */
void console_lock(void);
void console_unlock(void);
/* For the exception path: gives up after a bounded wait so a crash while printing still prints. */
bool console_try_lock_bounded(void);

#endif
