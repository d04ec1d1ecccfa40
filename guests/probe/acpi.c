#include "acpi.h"
#include "json.h"
#include "paging.h"
#include "reserved.h"

#define BIOS_AREA_BASE 0xE0000
#define BIOS_AREA_END 0x100000
#define RSDP_V1_BYTES 20
#define RSDP_V2_MIN_BYTES 36
#define RSDP_MAX_BYTES 4096
#define RSDP_OFFSET_REVISION 15
#define RSDP_OFFSET_RSDT 16
#define RSDP_OFFSET_LENGTH 20
#define RSDP_OFFSET_XSDT 24
/* Sanity caps on lengths read from tables (a DSDT is the largest table, typically a few KiB). */
#define TABLE_MAX_BYTES (16u << 20)
#define ROOT_MAX_ENTRIES 256

#define FADT_OFFSET_FIRMWARE_CTRL 36
#define FADT_OFFSET_DSDT 40
#define FADT_OFFSET_PM1A_CNT_BLK 64
#define FADT_OFFSET_PM_TMR_BLK 76
#define FADT_OFFSET_FLAGS 112
#define FADT_V1_BYTES 116
#define FADT_OFFSET_X_FIRMWARE_CTRL 132
#define FADT_OFFSET_X_DSDT 140
#define FADT_OFFSET_X_PM1A_CNT_BLK 172
#define FADT_OFFSET_X_PM_TMR_BLK 208
#define GAS_BYTES 12
#define GAS_OFFSET_ADDRESS 4
#define GAS_SPACE_SYSTEM_IO 1
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define FACS_MIN_BYTES 64

#define MADT_OFFSET_LOCAL_APIC_ADDRESS 36
#define MADT_FIRST_ENTRY 44
#define MADT_LOCAL_APIC 0
#define MADT_LOCAL_APIC_ADDRESS_OVERRIDE 5
#define MADT_LOCAL_X2APIC 9
#define MADT_ENABLED 1u
#define DEFAULT_LOCAL_APIC_ADDRESS 0xFEE00000ULL

#define AML_NAME_OP 0x08
#define AML_ROOT_CHAR '\\'
#define AML_PACKAGE_OP 0x12
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_BYTE_PREFIX 0x0A

static bool bytes_equal(const u8 *a, const char *b, usize count)
{
    for (usize i = 0; i < count; i++)
        if (a[i] != (u8)b[i])
            return false;
    return true;
}

static u8 byte_sum(const u8 *bytes, usize count)
{
    u8 sum = 0;
    for (usize i = 0; i < count; i++)
        sum += bytes[i];
    return sum;
}

void acpi_report_bad_table(const char *signature, const char *reason, u64 address)
{
    probe_error_begin("bad ACPI table");
    json_key("table");
    json_string(signature, 4);
    json_key_string("reason", reason);
    json_key_u64("address", address);
    probe_line_end();
}

static bool rsdp_is_valid(u64 address)
{
    if (!paging_is_mapped(address, RSDP_V1_BYTES))
        return false;
    const u8 *rsdp = phys_ptr(address);
    if (!bytes_equal(rsdp, "RSD PTR ", 8) || byte_sum(rsdp, RSDP_V1_BYTES) != 0)
        return false;
    if (rsdp[RSDP_OFFSET_REVISION] < 2)
        return true;
    if (!paging_is_mapped(address, RSDP_V2_MIN_BYTES))
        return false;
    u32 length = load_u32(rsdp + RSDP_OFFSET_LENGTH);
    return length >= RSDP_V2_MIN_BYTES && length <= RSDP_MAX_BYTES && paging_is_mapped(address, length) &&
           byte_sum(rsdp, length) == 0;
}

struct rsdp_search acpi_find_rsdp(u64 rsdp_hint)
{
    struct rsdp_search result = { 0, false };
    if (rsdp_hint != 0) {
        if (rsdp_is_valid(rsdp_hint)) {
            result.address = rsdp_hint;
            return result;
        }
        result.hint_rejected = true;
    }
    for (u64 address = BIOS_AREA_BASE; address < BIOS_AREA_END; address += 16) {
        if (rsdp_is_valid(address)) {
            result.address = address;
            break;
        }
    }
    return result;
}

/* Accepts the table at address if it is mapped, has the expected signature, a sane length and a zero
 * checksum; otherwise reports why and leaves *table absent. */
static bool load_table(u64 address, const char *signature, struct acpi_table *table)
{
    *table = (struct acpi_table){ 0, 0, NULL };
    if (address == 0 || !paging_is_mapped(address, ACPI_HEADER_BYTES)) {
        acpi_report_bad_table(signature, "address is not in mapped memory", address);
        return false;
    }
    const u8 *bytes = phys_ptr(address);
    if (!bytes_equal(bytes, signature, 4)) {
        acpi_report_bad_table(signature, "signature mismatch", address);
        return false;
    }
    u32 length = load_u32(bytes + 4);
    if (length < ACPI_HEADER_BYTES || length > TABLE_MAX_BYTES || !paging_is_mapped(address, length)) {
        acpi_report_bad_table(signature, "bad length", address);
        return false;
    }
    if (byte_sum(bytes, length) != 0) {
        acpi_report_bad_table(signature, "checksum", address);
        return false;
    }
    *table = (struct acpi_table){ address, length, bytes };
    reserve_range(address, length);
    return true;
}

static struct acpi_table *slot_for_signature(struct acpi_tables *tables, const u8 *signature)
{
    if (bytes_equal(signature, "FACP", 4))
        return &tables->fadt;
    if (bytes_equal(signature, "APIC", 4))
        return &tables->madt;
    if (bytes_equal(signature, "SRAT", 4))
        return &tables->srat;
    if (bytes_equal(signature, "SLIT", 4))
        return &tables->slit;
    if (bytes_equal(signature, "HMAT", 4))
        return &tables->hmat;
    return NULL;
}

static void load_facs(u64 address)
{
    if (address == 0)
        return;
    if (!paging_is_mapped(address, FACS_MIN_BYTES)) {
        acpi_report_bad_table("FACS", "address is not in mapped memory", address);
        return;
    }
    const u8 *facs = phys_ptr(address);
    u32 length = load_u32(facs + 4);
    if (!bytes_equal(facs, "FACS", 4)) {
        acpi_report_bad_table("FACS", "signature mismatch", address);
        return;
    }
    if (length < FACS_MIN_BYTES || length > TABLE_MAX_BYTES || !paging_is_mapped(address, length)) {
        acpi_report_bad_table("FACS", "bad length", address);
        return;
    }
    reserve_range(address, length);    /* the FACS has no checksum */
}

/* The 64-bit X_ field wins when the table is long enough to have it and it is nonzero. */
static u64 fadt_address_field(const struct acpi_table *fadt, u32 legacy_offset, u32 extended_offset)
{
    if (fadt->length >= extended_offset + 8) {
        u64 extended = load_u64(fadt->bytes + extended_offset);
        if (extended != 0)
            return extended;
    }
    return fadt->length >= legacy_offset + 4 ? load_u32(fadt->bytes + legacy_offset) : 0;
}

static void load_fadt_children(struct acpi_tables *tables)
{
    const struct acpi_table *fadt = &tables->fadt;
    u64 dsdt = fadt_address_field(fadt, FADT_OFFSET_DSDT, FADT_OFFSET_X_DSDT);
    if (dsdt != 0)
        load_table(dsdt, "DSDT", &tables->dsdt);
    else
        acpi_report_bad_table("FACP", "no DSDT address", fadt->address);
    load_facs(fadt_address_field(fadt, FADT_OFFSET_FIRMWARE_CTRL, FADT_OFFSET_X_FIRMWARE_CTRL));
}

void acpi_load_tables(u64 rsdp_address, struct acpi_tables *tables)
{
    *tables = (struct acpi_tables){ .rsdp_address = rsdp_address };
    const u8 *rsdp = phys_ptr(rsdp_address);
    reserve_range(rsdp_address, rsdp[RSDP_OFFSET_REVISION] >= 2 ? load_u32(rsdp + RSDP_OFFSET_LENGTH) : RSDP_V1_BYTES);

    u64 xsdt = rsdp[RSDP_OFFSET_REVISION] >= 2 ? load_u64(rsdp + RSDP_OFFSET_XSDT) : 0;
    u32 entry_bytes = xsdt != 0 ? 8 : 4;
    bool root_ok = xsdt != 0 ? load_table(xsdt, "XSDT", &tables->root)
                             : load_table(load_u32(rsdp + RSDP_OFFSET_RSDT), "RSDT", &tables->root);
    if (!root_ok)
        return;

    u32 entries = (tables->root.length - ACPI_HEADER_BYTES) / entry_bytes;
    if (entries > ROOT_MAX_ENTRIES) {
        acpi_report_bad_table(xsdt != 0 ? "XSDT" : "RSDT", "more than 256 entries; the rest were ignored",
                              tables->root.address);
        entries = ROOT_MAX_ENTRIES;
    }
    for (u32 i = 0; i < entries; i++) {
        const u8 *entry = tables->root.bytes + ACPI_HEADER_BYTES + i * entry_bytes;
        u64 address = entry_bytes == 8 ? load_u64(entry) : load_u32(entry);
        if (address == 0 || !paging_is_mapped(address, ACPI_HEADER_BYTES)) {
            acpi_report_bad_table(xsdt != 0 ? "XSDT" : "RSDT", "entry is not in mapped memory", address);
            continue;
        }
        const u8 *signature = phys_ptr(address);
        struct acpi_table *slot = slot_for_signature(tables, signature);
        if (slot == NULL)
            continue;
        if (slot->address != 0) {
            acpi_report_bad_table((const char *)signature, "duplicate table; the first one is used", address);
            continue;
        }
        load_table(address, (const char *)signature, slot);
    }
    if (tables->fadt.address != 0)
        load_fadt_children(tables);
}

/* An I/O port from the X_ GAS when its address is nonzero, else from the legacy 32-bit field. */
static u16 fadt_io_port(const struct acpi_table *fadt, u32 legacy_offset, u32 gas_offset, const char *what)
{
    u64 port = 0;
    if (fadt->length >= gas_offset + GAS_BYTES && load_u64(fadt->bytes + gas_offset + GAS_OFFSET_ADDRESS) != 0) {
        if (fadt->bytes[gas_offset] != GAS_SPACE_SYSTEM_IO) {
            acpi_report_bad_table("FACP", what, fadt->address);
            return 0;
        }
        port = load_u64(fadt->bytes + gas_offset + GAS_OFFSET_ADDRESS);
    } else if (fadt->length >= legacy_offset + 4) {
        port = load_u32(fadt->bytes + legacy_offset);
    }
    if (port > 0xFFFF) {
        acpi_report_bad_table("FACP", what, fadt->address);
        return 0;
    }
    return (u16)port;
}

struct fadt_info acpi_parse_fadt(const struct acpi_table *fadt)
{
    struct fadt_info info = { 0, 0, false };
    if (fadt->address == 0)
        return info;
    if (fadt->length < FADT_V1_BYTES) {
        acpi_report_bad_table("FACP", "shorter than an ACPI 1.0 FADT", fadt->address);
        return info;
    }
    info.pm1a_control_port = fadt_io_port(fadt, FADT_OFFSET_PM1A_CNT_BLK, FADT_OFFSET_X_PM1A_CNT_BLK,
                                          "PM1a control block is not a 16-bit I/O port");
    info.pm_timer_port = fadt_io_port(fadt, FADT_OFFSET_PM_TMR_BLK, FADT_OFFSET_X_PM_TMR_BLK,
                                      "PM timer block is not a 16-bit I/O port");
    info.pm_timer_32bit = (load_u32(fadt->bytes + FADT_OFFSET_FLAGS) & FADT_FLAG_TMR_VAL_EXT) != 0;
    return info;
}

void acpi_parse_madt(const struct acpi_table *madt, struct madt_info *info)
{
    info->local_apic_address = DEFAULT_LOCAL_APIC_ADDRESS;
    info->enabled_apic_count = 0;
    if (madt->address == 0 || madt->length < MADT_FIRST_ENTRY)
        return;
    info->local_apic_address = load_u32(madt->bytes + MADT_OFFSET_LOCAL_APIC_ADDRESS);
    bool truncated = false;
    for (u32 offset = MADT_FIRST_ENTRY; offset + 2 <= madt->length;) {
        const u8 *entry = madt->bytes + offset;
        u8 type = entry[0], length = entry[1];
        if (length < 2 || offset + length > madt->length) {
            acpi_report_bad_table("APIC", "entry length runs past the table", madt->address);
            break;
        }
        bool enabled_apic = (type == MADT_LOCAL_APIC && length >= 8 && (load_u32(entry + 4) & MADT_ENABLED)) ||
                            (type == MADT_LOCAL_X2APIC && length >= 16 && (load_u32(entry + 8) & MADT_ENABLED));
        if (enabled_apic) {
            if (info->enabled_apic_count < MAX_CPUS)
                info->apic_ids[info->enabled_apic_count++] = type == MADT_LOCAL_APIC ? entry[3] : load_u32(entry + 4);
            else
                truncated = true;
        } else if (type == MADT_LOCAL_APIC_ADDRESS_OVERRIDE && length >= 12) {
            info->local_apic_address = load_u64(entry + 4);
        }
        offset += length;
    }
    if (truncated)
        acpi_report_bad_table("APIC", "more than 256 enabled CPUs; the rest were ignored", madt->address);
}

/* Finds Name(_S5, Package(){ SLP_TYPa, ... }) in the DSDT's AML:
 * NameOp [\] "_S5_" PackageOp PkgLength NumElements <first element>. */
struct s5_info acpi_find_s5(const struct acpi_table *dsdt)
{
    struct s5_info info = { false, 0 };
    if (dsdt->address == 0)
        return info;
    const u8 *aml = dsdt->bytes;
    u32 end = dsdt->length;
    for (u32 i = ACPI_HEADER_BYTES; i < end; i++) {
        if (aml[i] != AML_NAME_OP)
            continue;
        u32 at = i + 1;
        if (at < end && aml[at] == AML_ROOT_CHAR)
            at++;
        if (at + 5 > end || !bytes_equal(aml + at, "_S5_", 4) || aml[at + 4] != AML_PACKAGE_OP)
            continue;
        at += 5;
        if (at < end)
            at += 1 + (aml[at] >> 6);   /* PkgLength: lead byte bits 7:6 count the bytes that follow */
        at += 1;                        /* NumElements */
        if (at >= end) {
            acpi_report_bad_table("DSDT", "\\_S5 package runs past the table", dsdt->address);
        } else if (aml[at] == AML_ZERO_OP || aml[at] == AML_ONE_OP) {
            info = (struct s5_info){ true, aml[at] };
        } else if (aml[at] == AML_BYTE_PREFIX && at + 1 < end) {
            info = (struct s5_info){ true, aml[at + 1] };
        } else {
            acpi_report_bad_table("DSDT", "\\_S5 package does not start with a byte constant", dsdt->address);
        }
        return info;
    }
    acpi_report_bad_table("DSDT", "no \\_S5 package", dsdt->address);
    return info;
}
