/* Addresses, selectors and sizes shared by the assembly and the C code. See README.md "Memory map". */
#ifndef PROBE_LAYOUT_H
#define PROBE_LAYOUT_H

/* 64-bit constants usable from both C and assembly. */
#ifdef __ASSEMBLER__
#define U64(x) x
#else
#define U64(x) x##ULL
#endif

/* GDT selectors (entry.S builds the table in this order). */
#define KERNEL_CODE64_SELECTOR 0x08
#define KERNEL_DATA_SELECTOR 0x10
#define KERNEL_CODE32_SELECTOR 0x18
#define USER_DATA_SELECTOR 0x20
#define USER_CODE64_SELECTOR 0x28
#define RPL_USER 3
/* One 16-byte TSS descriptor per CPU follows the segments: a TSS is marked busy when loaded, so CPUs
 * that run CPL3 code at the same time cannot share one (each needs its own RSP0 anyway). */
#define FIRST_TSS_SELECTOR 0x30
#define TSS_DESCRIPTOR_BYTES 16
/* Null, five segments and the TSS descriptors; entry.S checks it. */
#define GDT_BYTES (FIRST_TSS_SELECTOR + MAX_CPUS * TSS_DESCRIPTOR_BYTES)

/* The AP trampoline is copied to this page below 1 MiB; the SIPI vector is its page number. */
#define AP_TRAMPOLINE_BASE 0x8000
#define AP_TRAMPOLINE_SIPI_VECTOR (AP_TRAMPOLINE_BASE >> 12)

#define MAX_CPUS 256
/* CPU index 0 is the BSP; APs are numbered 1, 2, ... in the order they report (smp.c). */
#define BSP_CPU_INDEX 0
#define AP_STACK_SIZE 4096              /* AP kernel stack, also its TSS.RSP0 once at CPL3 */
#define AP_USER_STACK_SIZE 4096         /* memtest.cpus=all; the team workers need well under 1 KiB */
#define BSP_KERNEL_STACK_SIZE 16384
#define USER_STACK_SIZE 65536

/* Software interrupt that CPL3 code uses to halt the CPU for good (hlt itself needs CPL0). */
#define HALT_VECTOR 0x40

/* The low 4 GiB are identity-mapped by static tables in entry.S; RAM above is mapped at run time. */
#define LOW_IDENTITY_MAP_BYTES U64(0x100000000)
#define MMIO_HOLE_BASE U64(0xC0000000)

#define PAGE_SIZE U64(4096)
#define LARGE_PAGE_SIZE U64(0x200000)
#define GIB U64(0x40000000)

#define PTE_PRESENT 0x1
#define PTE_WRITABLE 0x2
#define PTE_USER 0x4
#define PTE_WRITE_THROUGH 0x8
#define PTE_CACHE_DISABLE 0x10
#define PTE_LARGE 0x80

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100

/* IOPL=3 lets the CPL3 workload drive the UART and the PM1a port; bit 1 is reserved-as-one; IF stays 0
 * because the probe polls everything and takes no interrupts. */
#define RFLAGS_USER 0x3002

#endif
