/* Exception entry stubs for vectors 0..31 and the CPL3 halt gate. Every stub builds the same frame
 * (caller-saved registers, vector, error code, then the CPU's iretq frame; struct exception_frame in
 * descriptors.h) and hands it to exception_dispatch (descriptors.c). That either resolves the
 * exception (CPL3 port I/O refused by the hypervisor, see port_io.c) and returns here to resume, or
 * prints it and powers off, so no crash is silent. */

        .section .text.interrupts, "ax"
        .code64

/* Pushes a zero error code unless the CPU pushes one itself (vectors 8, 10-14, 17, 21, 29, 30), so
 * every frame has the same layout. */
.macro exception_stub vector
exception_stub_\vector:
        .if (\vector == 8) || (\vector == 10) || (\vector == 11) || (\vector == 12) || (\vector == 13) || (\vector == 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
        .else
        push    $0
        .endif
        push    $\vector
        jmp     exception_common
.endm

        .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        exception_stub \vector
        .endr

/* Only the registers a C call may clobber (and rbx, used here) are saved: the rest survive
 * exception_dispatch anyway. */
exception_common:
        push    %rbx
        push    %rax
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        mov     %rsp, %rdi              /* struct exception_frame * */
        mov     %rsp, %rbx              /* callee-saved: survives the call, restores the frame */
        and     $-16, %rsp
        call    exception_dispatch      /* returns only if the exception was resolved */
        mov     %rbx, %rsp
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rax
        pop     %rbx
        add     $16, %rsp               /* vector and error code */
        iretq

/* int $HALT_VECTOR from CPL3: the interrupt gate has already cleared IF. */
        .globl halt_gate_entry
halt_gate_entry:
        hlt
        jmp     halt_gate_entry

        .section .rodata.interrupts, "a"
        .balign 8
        .globl exception_stub_table
exception_stub_table:
        .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exception_stub_\vector
        .endr
