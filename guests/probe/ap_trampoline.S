/* Application processor start-up. The 16-bit part is copied to AP_TRAMPOLINE_BASE (the SIPI vector
 * page) by smp.c; it only gets the AP into 32-bit protected mode with the BSP's GDT and then jumps
 * into the image, where enter_long_mode (entry.S) loads the BSP's page tables. */
#include "layout.h"

#define TRAMPOLINE_ADDRESS(label) (AP_TRAMPOLINE_BASE + ((label) - ap_trampoline_start))

        .section .rodata.ap_trampoline, "a"
        .code16
        .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
        cli
        cld
        xor     %ax, %ax
        mov     %ax, %ds
        lgdtl   TRAMPOLINE_ADDRESS(trampoline_gdt_pointer)
        mov     %cr0, %eax
        or      $CR0_PE, %eax
        mov     %eax, %cr0
        ljmpl   $KERNEL_CODE32_SELECTOR, $ap_protected_mode_entry
        .balign 4
trampoline_gdt_pointer:
        .word GDT_BYTES - 1
        .long gdt
ap_trampoline_end:

        .section .text.ap, "ax"
        .code32
ap_protected_mode_entry:
        mov     $KERNEL_DATA_SELECTOR, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $ap_long_mode_entry, %edi
        jmp     enter_long_mode

        .code64
/* Each AP claims the next stack slot; xadd is fine under kvm_pvm (only cmpxchg16b is not). */
ap_long_mode_entry:
        mov     $1, %eax
        lock xadd %eax, ap_stack_next_slot(%rip)
        cmp     $(MAX_CPUS - 1), %eax
        jae     1f
        inc     %eax
        imul    $AP_STACK_SIZE, %eax, %eax
        lea     ap_stacks(%rip), %rsp
        add     %rax, %rsp
        mov     %rsp, %rdi              /* ap_main(u64 kernel_stack_top) */
        call    ap_main
1:      cli
        hlt
        jmp     1b

        .section .data.ap, "aw"
        .balign 4
ap_stack_next_slot:
        .long 0

        .section .stacks, "aw", @nobits
        .balign 4096
ap_stacks:
        .space (MAX_CPUS - 1) * AP_STACK_SIZE
/* CPL3 stacks for memtest.cpus=all, indexed by CPU index (smp.c), not by the kernel stack slot. */
        .globl ap_user_stacks
ap_user_stacks:
        .space (MAX_CPUS - 1) * AP_USER_STACK_SIZE
