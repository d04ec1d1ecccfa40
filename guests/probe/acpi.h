/* ACPI discovery and the fixed-function parts the probe needs: RSDP -> XSDT (or RSDT) -> FACP (DSDT,
 * FACS) / APIC / SRAT / SLIT / HMAT. Every table is checked (mapped, signature, length, checksum)
 * before use; a bad one yields a PROBE error line naming it and is treated as absent. */
#ifndef PROBE_ACPI_H
#define PROBE_ACPI_H
#include "cpu.h"
#include "layout.h"

#define ACPI_HEADER_BYTES 36

struct acpi_table {
    u64 address;        /* 0: absent or rejected */
    u32 length;         /* validated: >= ACPI_HEADER_BYTES and fully mapped */
    const u8 *bytes;
};

struct acpi_tables {
    u64 rsdp_address;
    struct acpi_table root;     /* XSDT, or RSDT for ACPI 1.0 */
    struct acpi_table fadt;
    struct acpi_table dsdt;
    struct acpi_table madt;
    struct acpi_table srat;
    struct acpi_table slit;
    struct acpi_table hmat;
};

struct rsdp_search {
    u64 address;                /* 0: not found */
    bool hint_rejected;         /* rsdp_paddr was given but is not a valid RSDP */
};

struct fadt_info {
    u16 pm1a_control_port;      /* 0: none */
    u16 pm_timer_port;          /* 0: none */
    bool pm_timer_32bit;
};

struct madt_info {
    u64 local_apic_address;
    u32 enabled_apic_count;
    u32 apic_ids[MAX_CPUS];     /* enabled Local APIC and x2APIC entries, in table order */
};

struct s5_info {
    bool found;
    u8 slp_typ;
};

struct rsdp_search acpi_find_rsdp(u64 rsdp_hint);
/* Also reserves every accepted table's memory (reserved.h). */
void acpi_load_tables(u64 rsdp_address, struct acpi_tables *tables);
struct fadt_info acpi_parse_fadt(const struct acpi_table *fadt);
void acpi_parse_madt(const struct acpi_table *madt, struct madt_info *info);
struct s5_info acpi_find_s5(const struct acpi_table *dsdt);

/* PROBE error {"what":"bad ACPI table","table":<signature>,"reason":<reason>,"address":N} */
void acpi_report_bad_table(const char *signature, const char *reason, u64 address);

#endif
