/* IDT and TSS: exceptions on any CPU, at CPL0 or CPL3, end in a PROBE error line. */
#ifndef PROBE_DESCRIPTORS_H
#define PROBE_DESCRIPTORS_H
#include "cpu.h"

/* BSP, CPL0: builds the IDT, loads it and the BSP's TSS (RSP0 = kernel_stack_top). */
void descriptors_init(u64 kernel_stack_top);
/* AP, CPL0: loads the shared IDT. */
void descriptors_load_idt(void);
/* CPL0: gives the CPU its own TSS, whose RSP0 (kernel_stack_top) takes exceptions from CPL3. Needed
 * before a CPU enters CPL3; APs that stay at CPL0 need none. */
void descriptors_load_tss(u32 cpu_index, u64 kernel_stack_top);

/* entry.S, CPL0 -> CPL3: never returns; entry(argument) runs on stack_top with IOPL=3 and IF=0. */
__attribute__((noreturn)) void enter_user_mode(void (*entry)(u64 argument), u8 *stack_top, u64 argument);

/* Stack layout built by interrupts.S (lowest address first). */
struct exception_frame {
    u64 r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, rbx;
    u64 vector;
    u64 error_code;
    u64 rip;
    u64 cs;
    u64 rflags;
    u64 rsp;
    u64 ss;
};

/* Called by interrupts.S: returns only if the exception was resolved and the code may resume. */
void exception_dispatch(struct exception_frame *frame);

#endif
