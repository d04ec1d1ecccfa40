/* Writer for PROBE lines: "PROBE <kind> <one JSON object>\n", written straight to COM1 under the
 * console lock. Commas are inserted automatically; numbers are decimal integers. */
#ifndef PROBE_JSON_H
#define PROBE_JSON_H
#include "cpu.h"

void probe_line_begin(const char *kind);    /* takes the console lock, opens the object */
void probe_line_end(void);                  /* closes the line's object, ends the line, unlocks */
/* Same, for the exception path: prints even if the lock cannot be taken. */
void probe_line_begin_unlocked_fallback(const char *kind);

void json_key(const char *key);
void json_object_begin(void);
void json_object_end(void);
void json_array_begin(void);
void json_array_end(void);
void json_u64(u64 value);
void json_null(void);
void json_string(const char *text, usize max_len);

static inline void json_key_u64(const char *key, u64 value) { json_key(key); json_u64(value); }
static inline void json_key_string(const char *key, const char *text) { json_key(key); json_string(text, 256); }
static inline void json_key_u64_or_null(const char *key, bool present, u64 value)
{
    json_key(key);
    if (present)
        json_u64(value);
    else
        json_null();
}

/* PROBE error {"what":<what>, ...caller's fields...}: begin, add fields, then probe_line_end(). */
void probe_error_begin(const char *what);
/* Whole error line with just "what". */
void probe_error(const char *what);

#endif
