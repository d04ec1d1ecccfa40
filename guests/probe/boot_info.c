#include "boot_info.h"
#include "layout.h"

/* Xen public/arch-x86/hvm/start_info.h */
#define HVM_START_MAGIC 0x336ec578
#define START_INFO_V1_BYTES 56      /* adds memmap_paddr, memmap_entries, reserved */
#define OFFSET_MAGIC 0
#define OFFSET_VERSION 4
#define OFFSET_CMDLINE 24
#define OFFSET_RSDP 32
#define OFFSET_MEMMAP 40
#define OFFSET_MEMMAP_ENTRIES 48
#define MEMMAP_ENTRY_BYTES 24       /* addr u64, size u64, type u32, reserved u32 */

struct boot_info boot_info;

/* True if [address, address + length) lies in the statically mapped low 4 GiB. */
static bool in_low_map(u64 address, u64 length)
{
    return address < LOW_IDENTITY_MAP_BYTES && length <= LOW_IDENTITY_MAP_BYTES - address;
}

static void capture_cmdline(u64 address)
{
    if (address == 0)
        return;
    if (!in_low_map(address, 1)) {
        boot_info.cmdline_problem = "cmdline_paddr is above 4 GiB";
        return;
    }
    const u8 *source = phys_ptr(address);
    u64 limit = LOW_IDENTITY_MAP_BYTES - address;
    usize i = 0;
    while (i < MAX_CMDLINE_BYTES - 1 && i < limit && source[i] != 0) {
        boot_info.cmdline[i] = (char)source[i];
        i++;
    }
    boot_info.cmdline[i] = 0;
    if (i == MAX_CMDLINE_BYTES - 1 && source[i] != 0)
        boot_info.cmdline_problem = "command line longer than 1023 bytes was truncated";
}

static void capture_memory_map(u64 address, u32 entries)
{
    if (address == 0 || entries == 0) {
        boot_info.memmap_problem = "hvm_start_info has no memory map";
        return;
    }
    if (entries > MAX_MEMORY_REGIONS) {
        boot_info.memmap_problem = "memory map has more than 128 entries; the rest were ignored";
        entries = MAX_MEMORY_REGIONS;
    }
    if (!in_low_map(address, (u64)entries * MEMMAP_ENTRY_BYTES)) {
        boot_info.memmap_problem = "memmap_paddr is above 4 GiB";
        return;
    }
    for (u32 i = 0; i < entries; i++) {
        const u8 *entry = phys_ptr(address + (u64)i * MEMMAP_ENTRY_BYTES);
        boot_info.memory_regions[i].base = load_u64(entry);
        boot_info.memory_regions[i].size = load_u64(entry + 8);
        boot_info.memory_regions[i].type = load_u32(entry + 16);
    }
    boot_info.memory_region_count = entries;
}

void boot_info_capture(u64 start_info_address)
{
    if (start_info_address == 0 || !in_low_map(start_info_address, START_INFO_V1_BYTES)) {
        boot_info.start_info_problem = "EBX does not point at an hvm_start_info";
        return;
    }
    const u8 *start_info = phys_ptr(start_info_address);
    if (load_u32(start_info + OFFSET_MAGIC) != HVM_START_MAGIC) {
        boot_info.start_info_problem = "hvm_start_info magic is not 0x336ec578";
        return;
    }
    capture_cmdline(load_u64(start_info + OFFSET_CMDLINE));
    boot_info.rsdp_address = load_u64(start_info + OFFSET_RSDP);
    if (load_u32(start_info + OFFSET_VERSION) < 1) {
        boot_info.memmap_problem = "hvm_start_info version 0 has no memory map";
        return;
    }
    capture_memory_map(load_u64(start_info + OFFSET_MEMMAP), load_u32(start_info + OFFSET_MEMMAP_ENTRIES));
}

bool boot_info_has_memory_map(void) { return boot_info.memory_region_count > 0; }
