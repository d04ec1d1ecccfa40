#include "numa.h"
#include "json.h"

#define SRAT_FIRST_ENTRY 48
#define SRAT_PROCESSOR_APIC 0
#define SRAT_MEMORY 1
#define SRAT_PROCESSOR_X2APIC 2
#define SRAT_ENABLED 1u

#define SLIT_OFFSET_LOCALITIES 36
#define SLIT_FIRST_ENTRY 44

#define HMAT_FIRST_STRUCTURE 40
#define HMAT_STRUCTURE_HEADER_BYTES 8
#define HMAT_LOCALITY 1
#define HMAT_CACHE 2
#define HMAT_LOCALITY_FIXED_BYTES 32
#define HMAT_CACHE_FIXED_BYTES 32
#define HMAT_MAX_DOMAINS_PER_LOCALITY 64
#define HMAT_HIERARCHY_MASK 0x0F
#define HMAT_HIERARCHY_MEMORY 0
#define HMAT_ACCESS_LATENCY 0
#define HMAT_READ_LATENCY 1
#define HMAT_ACCESS_BANDWIDTH 3
#define HMAT_READ_BANDWIDTH 4
#define HMAT_ENTRY_ABSENT 0xFFFF
#define U32_MAX 0xFFFFFFFFu

/* The add_* helpers keep their arrays sorted and return false when an array is full. */
static bool add_node(struct numa_topology *topology, u32 domain)
{
    u32 at = 0;
    while (at < topology->node_count && topology->node_domains[at] < domain)
        at++;
    if (at < topology->node_count && topology->node_domains[at] == domain)
        return true;
    if (topology->node_count == MAX_NODES)
        return false;
    for (u32 i = topology->node_count; i > at; i--)
        topology->node_domains[i] = topology->node_domains[i - 1];
    topology->node_domains[at] = domain;
    topology->node_count++;
    return true;
}

static bool add_cpu(struct numa_topology *topology, u32 apic_id, u32 domain)
{
    if (topology->cpu_count == MAX_CPUS)
        return false;
    u32 at = topology->cpu_count;
    while (at > 0 && topology->cpus[at - 1].apic_id > apic_id) {
        topology->cpus[at] = topology->cpus[at - 1];
        at--;
    }
    topology->cpus[at] = (struct numa_cpu){ apic_id, domain };
    topology->cpu_count++;
    return add_node(topology, domain);
}

static bool add_range(struct numa_topology *topology, u32 domain, u64 base, u64 length)
{
    if (topology->range_count == MAX_MEMORY_AFFINITIES)
        return false;
    u32 at = topology->range_count;
    while (at > 0 && topology->ranges[at - 1].base > base) {
        topology->ranges[at] = topology->ranges[at - 1];
        at--;
    }
    topology->ranges[at] = (struct numa_range){ domain, base, length };
    topology->range_count++;
    return add_node(topology, domain);
}

static void parse_srat(const struct acpi_table *srat, struct numa_topology *topology)
{
    if (srat->address == 0)
        return;
    topology->has_srat = true;
    u8 revision = srat->bytes[8];
    bool truncated = false;
    for (u32 offset = SRAT_FIRST_ENTRY; offset + 2 <= srat->length;) {
        const u8 *entry = srat->bytes + offset;
        u8 type = entry[0], length = entry[1];
        if (length < 2 || offset + length > srat->length) {
            acpi_report_bad_table("SRAT", "entry length runs past the table", srat->address);
            break;
        }
        if (type == SRAT_PROCESSOR_APIC && length >= 16 && (load_u32(entry + 4) & SRAT_ENABLED)) {
            /* Proximity domain bits 7:0 at byte 2, bits 31:8 at bytes 9..11 (SRAT revision 2+, as Linux). */
            u32 domain = entry[2];
            if (revision >= 2)
                domain |= (u32)entry[9] << 8 | (u32)entry[10] << 16 | (u32)entry[11] << 24;
            truncated |= !add_cpu(topology, entry[3], domain);
        } else if (type == SRAT_PROCESSOR_X2APIC && length >= 24 && (load_u32(entry + 12) & SRAT_ENABLED)) {
            truncated |= !add_cpu(topology, load_u32(entry + 8), load_u32(entry + 4));
        } else if (type == SRAT_MEMORY && length >= 40 && (load_u32(entry + 28) & SRAT_ENABLED)) {
            u64 base = load_u64(entry + 8), range_length = load_u64(entry + 16);
            if (range_length != 0)
                truncated |= !add_range(topology, load_u32(entry + 2), base, range_length);
        }
        offset += length;
    }
    if (truncated)
        acpi_report_bad_table("SRAT", "more entries than the probe holds; the rest were ignored", srat->address);
}

static void parse_slit(const struct acpi_table *slit, struct numa_topology *topology)
{
    if (slit->address == 0)
        return;
    if (slit->length < SLIT_FIRST_ENTRY) {
        acpi_report_bad_table("SLIT", "too short for its locality count", slit->address);
        return;
    }
    u64 localities = load_u64(slit->bytes + SLIT_OFFSET_LOCALITIES);
    if (localities == 0 || localities > MAX_LOCALITIES) {
        acpi_report_bad_table("SLIT", "locality count is 0 or above 64", slit->address);
        return;
    }
    if (SLIT_FIRST_ENTRY + localities * localities > slit->length) {
        acpi_report_bad_table("SLIT", "matrix runs past the table", slit->address);
        return;
    }
    for (u32 from = 0; from < localities; from++)
        for (u32 to = 0; to < localities; to++)
            topology->distances[from][to] = slit->bytes[SLIT_FIRST_ENTRY + from * localities + to];
    topology->locality_count = (u32)localities;
}

/* drivers/acpi/numa/hmat.c hmat_normalize(): 0 means absent or overflowed. */
static u32 hmat_normalize(u16 entry, u64 base_unit, u8 data_type, u8 revision)
{
    if (entry == HMAT_ENTRY_ABSENT || entry == 0)
        return 0;
    if (base_unit > U32_MAX / entry)
        return 0;
    u32 value = (u32)(entry * base_unit);
    if (revision == 1) {
        if (value < 10)
            return 0;
        return (value + 9) / 10;
    }
    if (data_type <= 2)                 /* access, read, write latency: picoseconds -> ns, rounded up */
        return (u32)(((u64)value + 999) / 1000);
    return value;
}

static struct numa_access *access_pair(struct numa_topology *topology, u32 initiator, u32 target)
{
    u32 at = 0;
    while (at < topology->access_count &&
           (topology->access[at].initiator < initiator ||
            (topology->access[at].initiator == initiator && topology->access[at].target < target)))
        at++;
    if (at < topology->access_count && topology->access[at].initiator == initiator &&
        topology->access[at].target == target)
        return &topology->access[at];
    if (topology->access_count == MAX_ACCESS_PAIRS)
        return NULL;
    for (u32 i = topology->access_count; i > at; i--)
        topology->access[i] = topology->access[i - 1];
    topology->access[at] = (struct numa_access){ initiator, target, { 0, 0 }, { 0, 0 } };
    topology->access_count++;
    return &topology->access[at];
}

static void parse_hmat_locality(const struct acpi_table *hmat, const u8 *structure, u32 length,
                                struct numa_topology *topology)
{
    if (length < HMAT_LOCALITY_FIXED_BYTES) {
        acpi_report_bad_table("HMAT", "locality structure shorter than 32 bytes", hmat->address);
        return;
    }
    u8 hierarchy = structure[8] & HMAT_HIERARCHY_MASK, data_type = structure[9];
    u32 initiators = load_u32(structure + 12), targets = load_u32(structure + 16);
    u64 base_unit = load_u64(structure + 24);
    if (initiators > HMAT_MAX_DOMAINS_PER_LOCALITY || targets > HMAT_MAX_DOMAINS_PER_LOCALITY) {
        acpi_report_bad_table("HMAT", "locality structure lists more than 64 domains", hmat->address);
        return;
    }
    u64 needed = HMAT_LOCALITY_FIXED_BYTES + 4ULL * (initiators + targets) + 2ULL * initiators * targets;
    if (needed > length) {
        acpi_report_bad_table("HMAT", "locality structure runs past its length", hmat->address);
        return;
    }
    if (hierarchy != HMAT_HIERARCHY_MEMORY)
        return;
    enum hmat_measure measure;
    bool latency;
    switch (data_type) {
    case HMAT_ACCESS_LATENCY: measure = HMAT_ACCESS; latency = true; break;
    case HMAT_READ_LATENCY: measure = HMAT_READ; latency = true; break;
    case HMAT_ACCESS_BANDWIDTH: measure = HMAT_ACCESS; latency = false; break;
    case HMAT_READ_BANDWIDTH: measure = HMAT_READ; latency = false; break;
    default: return;                    /* write latency/bandwidth: not reported */
    }
    const u8 *initiator_list = structure + HMAT_LOCALITY_FIXED_BYTES;
    const u8 *target_list = initiator_list + 4 * initiators;
    const u8 *entries = target_list + 4 * targets;
    for (u32 i = 0; i < initiators; i++) {
        for (u32 t = 0; t < targets; t++) {
            u32 value = hmat_normalize(load_u16(entries + 2 * (i * targets + t)), base_unit, data_type,
                                       hmat->bytes[8]);
            if (value == 0)
                continue;
            struct numa_access *pair = access_pair(topology, load_u32(initiator_list + 4 * i),
                                                   load_u32(target_list + 4 * t));
            if (pair == NULL) {
                acpi_report_bad_table("HMAT", "more than 1024 initiator/target pairs", hmat->address);
                return;
            }
            if (latency)
                pair->latency_ns[measure] = value;
            else
                pair->bandwidth_mbps[measure] = value;
        }
    }
}

static void parse_hmat_cache(const struct acpi_table *hmat, const u8 *structure, u32 length,
                             struct numa_topology *topology)
{
    if (length < HMAT_CACHE_FIXED_BYTES || HMAT_CACHE_FIXED_BYTES + 2u * load_u16(structure + 30) > length) {
        acpi_report_bad_table("HMAT", "cache structure runs past its length", hmat->address);
        return;
    }
    if (topology->cache_count == MAX_CACHES) {
        acpi_report_bad_table("HMAT", "more than 64 cache structures", hmat->address);
        return;
    }
    topology->caches[topology->cache_count++] =
        (struct numa_cache){ load_u32(structure + 8), load_u64(structure + 16), load_u32(structure + 24) };
}

static void parse_hmat(const struct acpi_table *hmat, struct numa_topology *topology)
{
    if (hmat->address == 0)
        return;
    u8 revision = hmat->bytes[8];
    if (revision != 1 && revision != 2) {
        acpi_report_bad_table("HMAT", "revision is neither 1 nor 2", hmat->address);
        return;
    }
    for (u32 offset = HMAT_FIRST_STRUCTURE; offset + HMAT_STRUCTURE_HEADER_BYTES <= hmat->length;) {
        const u8 *structure = hmat->bytes + offset;
        u16 type = load_u16(structure);
        u32 length = load_u32(structure + 4);
        if (length < HMAT_STRUCTURE_HEADER_BYTES || length > hmat->length - offset) {
            acpi_report_bad_table("HMAT", "structure length runs past the table", hmat->address);
            return;
        }
        if (type == HMAT_LOCALITY)
            parse_hmat_locality(hmat, structure, length, topology);
        else if (type == HMAT_CACHE)
            parse_hmat_cache(hmat, structure, length, topology);
        offset += length;
    }
}

void numa_parse(const struct acpi_tables *tables, struct numa_topology *topology)
{
    parse_srat(&tables->srat, topology);
    parse_slit(&tables->slit, topology);
    parse_hmat(&tables->hmat, topology);
}

bool numa_domain_of_apic(const struct numa_topology *topology, u32 apic_id, u32 *domain)
{
    for (u32 i = 0; i < topology->cpu_count; i++) {
        if (topology->cpus[i].apic_id == apic_id) {
            *domain = topology->cpus[i].domain;
            return true;
        }
    }
    return false;
}

static void print_nodes(const struct numa_topology *topology)
{
    json_key("nodes");
    json_array_begin();
    for (u32 n = 0; n < topology->node_count; n++) {
        u32 domain = topology->node_domains[n];
        json_object_begin();
        json_key_u64("node", domain);
        json_key("apicIds");
        json_array_begin();
        for (u32 c = 0; c < topology->cpu_count; c++)
            if (topology->cpus[c].domain == domain)
                json_u64(topology->cpus[c].apic_id);
        json_array_end();
        json_key("ranges");
        json_array_begin();
        for (u32 r = 0; r < topology->range_count; r++) {
            if (topology->ranges[r].domain != domain)
                continue;
            json_array_begin();
            json_u64(topology->ranges[r].base);
            json_u64(topology->ranges[r].length);
            json_array_end();
        }
        json_array_end();
        json_object_end();
    }
    json_array_end();
}

static void print_distances(const struct numa_topology *topology)
{
    json_key("distances");
    if (topology->locality_count == 0) {
        json_null();
        return;
    }
    json_array_begin();
    for (u32 from = 0; from < topology->locality_count; from++) {
        json_array_begin();
        for (u32 to = 0; to < topology->locality_count; to++)
            json_u64(topology->distances[from][to]);
        json_array_end();
    }
    json_array_end();
}

static void print_preferred(const char *key, const u32 values[HMAT_MEASURES])
{
    u32 value = values[HMAT_ACCESS] != 0 ? values[HMAT_ACCESS] : values[HMAT_READ];
    json_key_u64_or_null(key, value != 0, value);
}

static void print_access(const struct numa_topology *topology)
{
    json_key("access");
    json_array_begin();
    for (u32 i = 0; i < topology->access_count; i++) {
        const struct numa_access *pair = &topology->access[i];
        json_object_begin();
        json_key_u64("initiator", pair->initiator);
        json_key_u64("target", pair->target);
        print_preferred("latencyNs", pair->latency_ns);
        print_preferred("bandwidthMBps", pair->bandwidth_mbps);
        json_object_end();
    }
    json_array_end();
}

static void print_caches(const struct numa_topology *topology)
{
    json_key("caches");
    json_array_begin();
    for (u32 i = 0; i < topology->cache_count; i++) {
        const struct numa_cache *cache = &topology->caches[i];
        u32 attributes = cache->attributes;
        json_object_begin();
        json_key_u64("node", cache->domain);
        json_key_u64("sizeBytes", cache->size_bytes);
        json_key_u64("level", attributes >> 4 & 0xF);
        json_key_u64("totalLevels", attributes & 0xF);
        json_key_u64("associativity", attributes >> 8 & 0xF);
        json_key_u64("writePolicy", attributes >> 12 & 0xF);
        json_key_u64("lineBytes", attributes >> 16);
        json_object_end();
    }
    json_array_end();
}

void numa_print(const struct numa_topology *topology, const struct madt_info *madt, const struct s5_info *s5)
{
    probe_line_begin("numa");
    print_nodes(topology);
    print_distances(topology);
    print_access(topology);
    print_caches(topology);
    json_key("madtApicIds");
    json_array_begin();
    for (u32 i = 0; i < madt->enabled_apic_count; i++)
        json_u64(madt->apic_ids[i]);
    json_array_end();
    json_key_u64_or_null("s5", s5->found, s5->slp_typ);
    probe_line_end();
}
