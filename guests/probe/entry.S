/* PVH entry (BSP), the 32-bit -> long mode switch shared with the APs, the GDT and the static
 * identity map of the low 4 GiB.
 *
 * The page tables for 0..4 GiB are assembled into the image (.rept below) rather than built at run
 * time: under kvm_pvm every CPL0 instruction costs about 1 us, and a loader copy costs nothing. */
#include "layout.h"

/* XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit physical entry point. The descriptor is 8 bytes like Linux's,
 * because QEMU reads it as a size_t; 32-bit readers see the same value in the low half. */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                         /* namesz */
        .long 8                         /* descsz */
        .long 18                        /* type: XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .balign 4
        .quad pvh_entry
        .balign 4

        .section .text.entry, "ax"
        .code32

/* PVH entry state: 32-bit protected mode, paging off, flat CS/DS, EBX = &hvm_start_info.
 * ESI carries the start info address through the mode switch (enter_long_mode leaves it alone). */
        .globl pvh_entry
pvh_entry:
        cli
        cld
        mov     %ebx, %esi
        lgdt    gdt_pointer
        ljmp    $KERNEL_CODE32_SELECTOR, $1f
1:      mov     $KERNEL_DATA_SELECTOR, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $bsp_kernel_stack_top, %esp
        mov     $bsp_long_mode_entry, %edi
        jmp     enter_long_mode

/* Shared by BSP and APs. In: EDI = 64-bit continuation address; segments flat; paging off. */
        .globl enter_long_mode
enter_long_mode:
        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        or      $(CR0_PG | CR0_PE), %eax
        mov     %eax, %cr0
        ljmp    $KERNEL_CODE64_SELECTOR, $1f
        .code64
1:      mov     %edi, %eax              /* upper halves are undefined after the switch: zero-extend */
        jmp     *%rax

bsp_long_mode_entry:
        mov     $bsp_kernel_stack_top, %rsp
        mov     %esi, %edi              /* kernel_main(u64 start_info_paddr) */
        call    kernel_main
1:      hlt
        jmp     1b

/* enter_user_mode(rdi = entry, rsi = user stack top, rdx = argument): iretq to CPL3 with IOPL=3 and
 * IF=0; the entry receives the argument as its first parameter. Used by the BSP and, with
 * memtest.cpus=all, by every AP. */
        .globl enter_user_mode
enter_user_mode:
        mov     $(USER_DATA_SELECTOR | RPL_USER), %eax
        mov     %eax, %ds
        mov     %eax, %es
        sub     $8, %rsi                /* the callee sees the stack as if reached by a call */
        push    $(USER_DATA_SELECTOR | RPL_USER)
        push    %rsi
        push    $RFLAGS_USER
        push    $(USER_CODE64_SELECTOR | RPL_USER)
        push    %rdi
        mov     %rdx, %rdi
        iretq

        .section .data.descriptors, "aw"
        .balign 16
        .globl gdt, tss_descriptors
gdt:
        .quad 0
        .quad 0x00af9a000000ffff        /* 0x08 kernel code, 64-bit */
        .quad 0x00cf92000000ffff        /* 0x10 kernel data */
        .quad 0x00cf9a000000ffff        /* 0x18 kernel code, 32-bit (PVH entry, AP trampoline) */
        .quad 0x00cff2000000ffff        /* 0x20 user data, DPL3 */
        .quad 0x00affa000000ffff        /* 0x28 user code, 64-bit, DPL3 */
tss_descriptors:                        /* 0x30 + 16 * CPU index: bases split across fields, filled by C */
        .fill MAX_CPUS * TSS_DESCRIPTOR_BYTES / 8, 8, 0
gdt_end:
        .if gdt_end - gdt != GDT_BYTES
        .error "GDT_BYTES in layout.h does not match the GDT"
        .endif

/* 6-byte pseudo-descriptor; only ever loaded in 32-bit or 16-bit code. */
        .globl gdt_pointer
gdt_pointer:
        .word gdt_end - gdt - 1
        .long gdt

/* Identity map, U bit set everywhere so the CPL3 workload reaches RAM, the LAPIC and ACPI tables. */
        .section .data.page_tables, "aw"
        .balign 4096
        .globl pml4, pdpt
pml4:
        .quad pdpt + (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
        .fill 511, 8, 0
pdpt:
        .quad low_page_directories + 0 * 4096 + (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
        .quad low_page_directories + 1 * 4096 + (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
        .quad low_page_directories + 2 * 4096 + (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
        .quad low_page_directories + 3 * 4096 + (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
        .fill 508, 8, 0                 /* RAM above 4 GiB: paging.c */
low_page_directories:
        .set page_address, 0
        .rept MMIO_HOLE_BASE / LARGE_PAGE_SIZE
        .quad page_address + (PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_LARGE)
        .set page_address, page_address + LARGE_PAGE_SIZE
        .endr
        /* 3..4 GiB holds the LAPIC, IOAPIC and PCI MMIO: uncached. */
        .rept (LOW_IDENTITY_MAP_BYTES - MMIO_HOLE_BASE) / LARGE_PAGE_SIZE
        .quad page_address + (PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_LARGE | PTE_WRITE_THROUGH | PTE_CACHE_DISABLE)
        .set page_address, page_address + LARGE_PAGE_SIZE
        .endr

/* Stacks: contents irrelevant, so they live in a NOLOAD section the loader need not fill. */
        .section .stacks, "aw", @nobits
        .balign 4096
        .globl bsp_kernel_stack_top, user_stack_top
        .space BSP_KERNEL_STACK_SIZE
bsp_kernel_stack_top:
        .space USER_STACK_SIZE
user_stack_top:
