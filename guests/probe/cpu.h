/* Thin wrappers over the x86 instructions the probe uses. Everything here is an inline so that the
 * CPL0 paths (each instruction costs about 1 us under kvm_pvm) pay no call overhead. */
#ifndef PROBE_CPU_H
#define PROBE_CPU_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long usize;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void outb(u16 port, u8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outw(u16 port, u16 value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline u32 inl(u16 port)
{
    u32 value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline u32 mmio_read32(u64 address) { return *(volatile u32 *)address; }
static inline void mmio_write32(u64 address, u32 value) { *(volatile u32 *)address = value; }

struct cpuid_result { u32 eax, ebx, ecx, edx; };

static inline struct cpuid_result cpuid(u32 leaf, u32 subleaf)
{
    struct cpuid_result r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

/* lfence keeps rdtsc from being executed before earlier instructions have completed, so the
 * difference of two reads brackets the work between them. */
static inline u64 rdtsc_ordered(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((u64)hi << 32) | lo;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

/* Only legal at CPL0: used by the APs and the exception handler, never by the CPL3 workload. */
static inline __attribute__((noreturn)) void halt_forever_cpl0(void)
{
    for (;;)
        __asm__ volatile("cli\n\thlt");
}

/* Unaligned little-endian loads from ACPI tables (x86 allows unaligned access; memcpy-free). */
static inline u16 load_u16(const u8 *p) { return (u16)(p[0] | (p[1] << 8)); }
static inline u32 load_u32(const u8 *p) { return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24); }
static inline u64 load_u64(const u8 *p) { return (u64)load_u32(p) | ((u64)load_u32(p + 4) << 32); }

static inline const u8 *phys_ptr(u64 address) { return (const u8 *)(usize)address; }

#endif
