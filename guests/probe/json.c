#include "json.h"
#include "serial.h"

#define MAX_NESTING 8

/* Per-line state; only touched while the console lock is held. */
static u32 nesting;
static bool container_has_element[MAX_NESTING];
static bool value_follows_key;
static bool line_holds_lock;

static void write_quoted(const char *text, usize max_len);

static void write_text(const char *text)
{
    while (*text)
        serial_write_char(*text++);
}

/* Emits the separating comma before a new element of the current container. */
static void element_begin(void)
{
    if (value_follows_key) {
        value_follows_key = false;
        return;
    }
    if (nesting > 0 && nesting <= MAX_NESTING) {
        if (container_has_element[nesting - 1])
            serial_write_char(',');
        container_has_element[nesting - 1] = true;
    }
}

static void container_begin(char opener)
{
    element_begin();
    serial_write_char(opener);
    nesting++;
    if (nesting <= MAX_NESTING)
        container_has_element[nesting - 1] = false;
}

static void container_end(char closer)
{
    serial_write_char(closer);
    if (nesting > 0)
        nesting--;
}

static void line_open(const char *kind)
{
    nesting = 0;
    value_follows_key = false;
    write_text("PROBE ");
    write_text(kind);
    serial_write_char(' ');
    json_object_begin();
}

void probe_line_begin(const char *kind)
{
    console_lock();
    line_holds_lock = true;
    line_open(kind);
}

void probe_line_begin_unlocked_fallback(const char *kind)
{
    line_holds_lock = console_try_lock_bounded();
    serial_write_char('\n');        /* the crash may have interrupted another line */
    line_open(kind);
}

void probe_line_end(void)
{
    json_object_end();
    serial_write_char('\n');
    if (line_holds_lock)
        console_unlock();
    line_holds_lock = false;
}

void json_key(const char *key)
{
    element_begin();
    write_quoted(key, 64);
    serial_write_char(':');
    value_follows_key = true;
}

void json_object_begin(void) { container_begin('{'); }
void json_object_end(void) { container_end('}'); }
void json_array_begin(void) { container_begin('['); }
void json_array_end(void) { container_end(']'); }

void json_u64(u64 value)
{
    char digits[20];
    u32 count = 0;
    element_begin();
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (count > 0)
        serial_write_char(digits[--count]);
}

void json_null(void)
{
    element_begin();
    write_text("null");
}

void json_string(const char *text, usize max_len)
{
    element_begin();
    write_quoted(text, max_len);
}

/* Bytes outside printable ASCII are escaped as \u00XX, so any command line yields valid JSON. */
static void write_quoted(const char *text, usize max_len)
{
    static const char hex[] = "0123456789abcdef";
    serial_write_char('"');
    for (usize i = 0; i < max_len && text[i] != 0; i++) {
        u8 c = (u8)text[i];
        if (c == '"' || c == '\\') {
            serial_write_char('\\');
            serial_write_char((char)c);
        } else if (c < 0x20 || c >= 0x7F) {
            write_text("\\u00");
            serial_write_char(hex[c >> 4]);
            serial_write_char(hex[c & 15]);
        } else {
            serial_write_char((char)c);
        }
    }
    serial_write_char('"');
}

void probe_error_begin(const char *what)
{
    probe_line_begin("error");
    json_key_string("what", what);
}

void probe_error(const char *what)
{
    probe_error_begin(what);
    probe_line_end();
}
