/* Port I/O on behalf of CPL3 code when the hypervisor ignores IOPL=3.
 *
 * The probe runs its workload at CPL3 with RFLAGS.IOPL=3 so that it can drive the UART, the PM timer
 * and the PM1a control port directly. kvm_pvm (this project's development host) does not honour
 * IOPL for the guest's user mode and raises #GP instead; the #GP handler then performs the access at
 * CPL0 and resumes after the instruction. On hosts that honour IOPL this never runs. */
#ifndef PROBE_PORT_IO_H
#define PROBE_PORT_IO_H
#include "descriptors.h"

/* CPL0. If frame->rip points at an IN or OUT (DX or imm8 port, 8/16/32-bit), performs it, updates
 * the saved RAX and RIP and returns true; otherwise returns false. */
bool port_io_emulate_user_instruction(struct exception_frame *frame);

#endif
