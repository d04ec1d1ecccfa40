#include "descriptors.h"
#include "json.h"
#include "layout.h"
#include "port_io.h"
#include "power.h"

#define EXCEPTION_VECTORS 32
#define IDT_VECTORS 256
#define GATE_INTERRUPT_PRESENT 0x8E00   /* P=1, type 0xE (64-bit interrupt gate) */
#define GATE_DPL3 0x6000
#define TSS_TYPE_AVAILABLE 0x89         /* P=1, type 9 (available 64-bit TSS) */
#define GENERAL_PROTECTION_VECTOR 13
#define PAGE_FAULT_VECTOR 14

struct idt_gate {
    u16 offset_low;
    u16 selector;
    u16 flags;
    u16 offset_middle;
    u32 offset_high;
    u32 reserved;
} __attribute__((packed));

struct tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 io_map_base;
} __attribute__((packed));

struct descriptor_table_pointer {
    u16 limit;
    u64 base;
} __attribute__((packed));

extern const u64 exception_stub_table[EXCEPTION_VECTORS];
extern void halt_gate_entry(void);
extern u64 tss_descriptors[MAX_CPUS][2];

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static struct tss tss_of_cpu[MAX_CPUS] __attribute__((aligned(16)));

static void set_gate(u32 vector, u64 handler, u16 flags)
{
    idt[vector] = (struct idt_gate){
        .offset_low = (u16)handler,
        .selector = KERNEL_CODE64_SELECTOR,
        .flags = flags,
        .offset_middle = (u16)(handler >> 16),
        .offset_high = (u32)(handler >> 32),
    };
}

void descriptors_load_idt(void)
{
    struct descriptor_table_pointer pointer = { sizeof(idt) - 1, (u64)(usize)idt };
    __asm__ volatile("lidt %0" : : "m"(pointer));
}

void descriptors_load_tss(u32 cpu_index, u64 kernel_stack_top)
{
    struct tss *tss = &tss_of_cpu[cpu_index];
    tss->rsp[0] = kernel_stack_top;
    tss->io_map_base = sizeof(*tss);    /* no I/O bitmap: CPL3 port access comes from IOPL=3 */
    u64 base = (u64)(usize)tss;
    u64 limit = sizeof(*tss) - 1;
    u64 *descriptor = tss_descriptors[cpu_index];
    descriptor[0] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | ((u64)TSS_TYPE_AVAILABLE << 40) |
                    ((limit >> 16 & 0xF) << 48) | ((base >> 24 & 0xFF) << 56);
    descriptor[1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"((u16)(FIRST_TSS_SELECTOR + cpu_index * TSS_DESCRIPTOR_BYTES)));
}

void descriptors_init(u64 kernel_stack_top)
{
    for (u32 vector = 0; vector < EXCEPTION_VECTORS; vector++)
        set_gate(vector, exception_stub_table[vector], GATE_INTERRUPT_PRESENT);
    set_gate(HALT_VECTOR, (u64)(usize)halt_gate_entry, GATE_INTERRUPT_PRESENT | GATE_DPL3);
    descriptors_load_idt();
    descriptors_load_tss(BSP_CPU_INDEX, kernel_stack_top);
}

static u64 read_cr2(void)
{
    u64 value;
    __asm__ volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

/* Runs at CPL0 on whichever CPU faulted. */
static __attribute__((noreturn)) void exception_report(const struct exception_frame *frame)
{
    probe_line_begin_unlocked_fallback("error");
    json_key_string("what", "exception");
    json_key_u64("vector", frame->vector);
    json_key_u64("errorCode", frame->error_code);
    json_key_u64("rip", frame->rip);
    json_key_u64("cpl", frame->cs & 3);
    json_key_u64("rsp", frame->rsp);
    if (frame->vector == PAGE_FAULT_VECTOR)
        json_key_u64("cr2", read_cr2());
    probe_line_end();
    power_off_after_crash();
}

void exception_dispatch(struct exception_frame *frame)
{
    if (frame->vector == GENERAL_PROTECTION_VECTOR && (frame->cs & 3) == RPL_USER &&
        port_io_emulate_user_instruction(frame))
        return;
    exception_report(frame);
}
