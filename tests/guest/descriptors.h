/* IDT and TSS: exceptions on any CPU, at CPL0 or CPL3, end in a PROBE error line. */
#ifndef PROBE_DESCRIPTORS_H
#define PROBE_DESCRIPTORS_H
#include "cpu.h"

/* BSP, CPL0: builds the IDT, points the TSS's RSP0 at kernel_stack_top, loads both. */
void descriptors_init(u64 kernel_stack_top);
/* AP, CPL0: loads the shared IDT (APs stay at CPL0 and need no TSS). */
void descriptors_load_idt(void);

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
