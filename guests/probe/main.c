/* The probe's sequence. kernel_main does the little that needs CPL0 (each CPL0 instruction costs
 * about 1 us under kvm_pvm) and drops to CPL3, where everything else runs at native speed. */
#include "acpi.h"
#include "boot_info.h"
#include "clock.h"
#include "descriptors.h"
#include "json.h"
#include "layout.h"
#include "memtest.h"
#include "numa.h"
#include "options.h"
#include "paging.h"
#include "power.h"
#include "reserved.h"
#include "serial.h"
#include "smp.h"
#include "team.h"

#define LEGACY_HOLE_BASE 0xA0000        /* VGA window, option ROMs and the BIOS/ACPI area */
#define LEGACY_HOLE_END 0x100000

extern u8 __image_start[];
extern u8 bsp_kernel_stack_top[];
extern u8 user_stack_top[];

/* Large, so kept out of the stack. */
static struct acpi_tables tables;
static struct madt_info madt;
static struct numa_topology topology;

static void report_problem(const char *problem)
{
    if (problem != NULL)
        probe_error(problem);
}

static void print_boot_line(u64 rsdp_address)
{
    probe_line_begin("boot");
    json_key("cmdline");
    json_string(boot_info.cmdline, MAX_CMDLINE_BYTES);
    json_key_u64_or_null("rsdp", rsdp_address != 0, rsdp_address);
    json_key("memmap");
    json_array_begin();
    for (u32 i = 0; i < boot_info.memory_region_count; i++) {
        json_object_begin();
        json_key_u64("base", boot_info.memory_regions[i].base);
        json_key_u64("size", boot_info.memory_regions[i].size);
        json_key_u64("type", boot_info.memory_regions[i].type);
        json_object_end();
    }
    json_array_end();
    probe_line_end();
}

static void reserve_probe_memory(void)
{
    u64 image_start = (u64)(usize)__image_start;
    reserve_range(image_start, paging_pool_end() - image_start);    /* code, data, stacks, page tables */
    reserve_range(AP_TRAMPOLINE_BASE, PAGE_SIZE);
    reserve_range(LEGACY_HOLE_BASE, LEGACY_HOLE_END - LEGACY_HOLE_BASE);
    for (u32 i = 0; i < boot_info.memory_region_count; i++)
        if (boot_info.memory_regions[i].type != E820_TYPE_RAM)
            reserve_range(boot_info.memory_regions[i].base, boot_info.memory_regions[i].size);
}

static __attribute__((noreturn)) void user_main(u64 cpu_index __attribute__((unused)))
{
    serial_init();
    serial_write_char('\n');   /* firmware (SeaBIOS under QEMU) may have left a partial line */
    struct rsdp_search rsdp = acpi_find_rsdp(boot_info.rsdp_address);
    print_boot_line(rsdp.address);
    report_problem(boot_info.start_info_problem);
    report_problem(boot_info.memmap_problem);
    report_problem(boot_info.cmdline_problem);
    report_problem(paging_problem);
    if (rsdp.hint_rejected)
        acpi_report_bad_table("RSDP", "rsdp_paddr does not point at a valid RSDP", boot_info.rsdp_address);
    struct probe_options options = options_parse(boot_info.cmdline);
    reserve_probe_memory();

    struct s5_info s5 = { false, 0 };
    struct fadt_info fadt = { 0, 0, false };
    if (rsdp.address != 0) {
        acpi_load_tables(rsdp.address, &tables);
        fadt = acpi_parse_fadt(&tables.fadt);
        s5 = acpi_find_s5(&tables.dsdt);
    } else {
        probe_error("no RSDP: neither rsdp_paddr nor the BIOS area 0xE0000-0xFFFFF has one");
    }
    acpi_parse_madt(&tables.madt, &madt);
    numa_parse(&tables, &topology);
    numa_print(&topology, &madt, &s5);

    clock_init(fadt.pm_timer_port, fadt.pm_timer_32bit);
    if (fadt.pm1a_control_port != 0 && s5.found)
        power_configure(fadt.pm1a_control_port, s5.slp_typ);

    bool memtest_on_all_cpus = options.memtest_enabled && options.memtest_on_all_cpus;
    u32 online_cpus = smp_start_aps(&madt, &topology, memtest_on_all_cpus ? team_member_main : NULL);
    team_form(memtest_on_all_cpus ? online_cpus : 1);
    memtest_run(&options, &topology);
    power_off();
}

/* Entered from entry.S at CPL0 in long mode on the BSP's kernel stack. */
void kernel_main(u64 start_info_address)
{
    boot_info_capture(start_info_address);
    paging_map_ram_above_4gib();
    descriptors_init((u64)(usize)bsp_kernel_stack_top);
    enter_user_mode(user_main, user_stack_top, BSP_CPU_INDEX);
}
