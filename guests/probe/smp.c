#include "smp.h"
#include "clock.h"
#include "descriptors.h"
#include "json.h"
#include "layout.h"

#define LAPIC_ID 0x20
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_INIT_ASSERT 0x00004500      /* delivery mode INIT, level assert */
#define ICR_STARTUP 0x00004600          /* delivery mode Start-Up; low byte = vector (page number) */
#define XAPIC_MAX_DESTINATION 0xFE      /* 0xFF is the broadcast destination */
/* MP-spec spacing; under KVM the in-kernel LAPIC needs none, so these only cost a few ms in total. */
#define INIT_TO_SIPI_DELAY_US 10000
#define SIPI_TO_SIPI_DELAY_US 200
#define ICR_IDLE_TIMEOUT_US 100000
/* Each AP reports within about a millisecond under kvm_pvm (0.15 ms to start, CPL0 code emulated). */
#define AP_REPORT_TIMEOUT_US 2000000

extern const u8 ap_trampoline_start[];
extern const u8 ap_trampoline_end[];
extern u8 ap_user_stacks[];

/* Written by the BSP before the first SIPI, read by the APs. */
static u64 local_apic_base;
static const struct numa_topology *cpu_topology;
static void (*ap_user_entry)(u64 cpu_index);
/* Each AP claims its CPU index from this count (lock xadd), so indices are dense in report order. */
static volatile u32 aps_online;
static u32 apic_id_of_cpu[MAX_CPUS];

static u32 local_apic_id(void) { return mmio_read32(local_apic_base + LAPIC_ID) >> 24; }

/* PROBE cpu {"apicId","cpuidApicId","x2apicId","node"} for the CPU this runs on (any CPL). Returns
 * the APIC ID. */
static u32 print_cpu_line(void)
{
    u32 apic_id = local_apic_id();
    u32 cpuid_apic_id = cpuid(1, 0).ebx >> 24;
    bool has_topology_leaf = cpuid(0, 0).eax >= 0xB && cpuid(0xB, 0).ebx != 0;
    u32 x2apic_id = has_topology_leaf ? cpuid(0xB, 0).edx : 0;
    u32 domain = 0;
    bool has_domain = numa_domain_of_apic(cpu_topology, apic_id, &domain);

    probe_line_begin("cpu");
    json_key_u64("apicId", apic_id);
    json_key_u64("cpuidApicId", cpuid_apic_id);
    json_key_u64_or_null("x2apicId", has_topology_leaf, x2apic_id);
    json_key_u64_or_null("node", has_domain, domain);
    probe_line_end();
    return apic_id;
}

void ap_main(u64 kernel_stack_top)
{
    descriptors_load_idt();
    u32 apic_id = print_cpu_line();
    u32 cpu_index = 1;
    __asm__ volatile("lock xaddl %0, %1" : "+r"(cpu_index), "+m"(aps_online) : : "memory");
    cpu_index++;
    apic_id_of_cpu[cpu_index] = apic_id;
    if (ap_user_entry == NULL)
        halt_forever_cpl0();
    descriptors_load_tss(cpu_index, kernel_stack_top);
    enter_user_mode(ap_user_entry, ap_user_stacks + (u64)cpu_index * AP_USER_STACK_SIZE, cpu_index);
}

u32 smp_apic_id(u32 cpu_index) { return apic_id_of_cpu[cpu_index]; }

static bool send_ipi(u32 apic_id, u32 command)
{
    mmio_write32(local_apic_base + LAPIC_ICR_HIGH, apic_id << 24);
    mmio_write32(local_apic_base + LAPIC_ICR_LOW, command);
    struct stopwatch watch;
    stopwatch_start(&watch);
    while (mmio_read32(local_apic_base + LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING)
        if (stopwatch_elapsed_us(&watch) > ICR_IDLE_TIMEOUT_US)
            return false;
    return true;
}

static void report_ap_problem(const char *what, u32 apic_id)
{
    probe_error_begin(what);
    json_key_u64("apicId", apic_id);
    probe_line_end();
}

static void install_trampoline(void)
{
    u8 *destination = (u8 *)(usize)AP_TRAMPOLINE_BASE;
    for (const u8 *source = ap_trampoline_start; source < ap_trampoline_end; source++)
        *destination++ = *source;
}

u32 smp_start_aps(const struct madt_info *madt, const struct numa_topology *topology,
                  void (*ap_user_entry_point)(u64 cpu_index))
{
    local_apic_base = madt->local_apic_address;
    cpu_topology = topology;
    ap_user_entry = ap_user_entry_point;
    aps_online = 0;
    install_trampoline();
    apic_id_of_cpu[BSP_CPU_INDEX] = print_cpu_line();

    u32 bsp_apic_id = local_apic_id();
    u32 targets[MAX_CPUS];
    u32 target_count = 0;
    for (u32 i = 0; i < madt->enabled_apic_count; i++) {
        u32 apic_id = madt->apic_ids[i];
        if (apic_id == bsp_apic_id)
            continue;
        if (apic_id > XAPIC_MAX_DESTINATION) {
            report_ap_problem("APIC ID needs x2APIC mode, which the probe does not use; CPU not started", apic_id);
            continue;
        }
        if (send_ipi(apic_id, ICR_INIT_ASSERT))
            targets[target_count++] = apic_id;
        else
            report_ap_problem("INIT IPI was not delivered", apic_id);
    }

    /* All INITs first, then one delay, then the SIPIs: the start-up cost does not grow with 10 ms per AP. */
    if (target_count > 0)
        clock_delay_us(INIT_TO_SIPI_DELAY_US);
    for (u32 i = 0; i < target_count; i++) {
        u32 command = ICR_STARTUP | AP_TRAMPOLINE_SIPI_VECTOR;
        bool delivered = send_ipi(targets[i], command);
        clock_delay_us(SIPI_TO_SIPI_DELAY_US);
        delivered = send_ipi(targets[i], command) && delivered;
        if (!delivered)
            report_ap_problem("STARTUP IPI was not delivered", targets[i]);
    }

    struct stopwatch watch;
    stopwatch_start(&watch);
    while (aps_online < target_count && stopwatch_elapsed_us(&watch) < AP_REPORT_TIMEOUT_US)
        cpu_relax();

    u32 online = 1 + aps_online;
    probe_line_begin("cpus");
    json_key_u64("expected", madt->enabled_apic_count > 0 ? madt->enabled_apic_count : 1);
    json_key_u64("online", online);
    probe_line_end();
    return online;
}
