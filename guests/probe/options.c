#include "options.h"
#include "json.h"

static bool word_equals(const char *word, usize length, const char *text)
{
    usize i = 0;
    for (; i < length; i++)
        if (text[i] == 0 || text[i] != word[i])
            return false;
    return text[i] == 0;
}

static bool word_has_prefix(const char *word, usize length, const char *prefix)
{
    for (usize i = 0; prefix[i] != 0; i++)
        if (i >= length || word[i] != prefix[i])
            return false;
    return true;
}

static bool parse_decimal(const char *digits, usize length, u64 *value)
{
    if (length == 0 || length > 19)     /* 19 digits always fit in 64 bits */
        return false;
    u64 result = 0;
    for (usize i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
        result = result * 10 + (u64)(digits[i] - '0');
    }
    *value = result;
    return true;
}

static void report_bad_option(const char *word, usize length)
{
    probe_error_begin("bad command-line option");
    json_key("option");
    json_string(word, length);
    probe_line_end();
}

static void apply_word(const char *word, usize length, struct probe_options *options)
{
    static const char pages_prefix[] = "memtest.pages=";
    if (word_equals(word, length, "memtest=on")) {
        options->memtest_enabled = true;
    } else if (word_equals(word, length, "memtest=off")) {
        options->memtest_enabled = false;
    } else if (word_has_prefix(word, length, "memtest=")) {
        report_bad_option(word, length);
    } else if (word_equals(word, length, "memtest.cpus=all")) {
        options->memtest_on_all_cpus = true;
    } else if (word_equals(word, length, "memtest.cpus=1")) {
        options->memtest_on_all_cpus = false;
    } else if (word_has_prefix(word, length, "memtest.cpus=")) {
        report_bad_option(word, length);
    } else if (word_has_prefix(word, length, pages_prefix)) {
        usize prefix_length = sizeof(pages_prefix) - 1;
        if (!parse_decimal(word + prefix_length, length - prefix_length, &options->memtest_page_limit))
            report_bad_option(word, length);
    }
}

struct probe_options options_parse(const char *cmdline)
{
    struct probe_options options = {
        .memtest_enabled = true, .memtest_page_limit = MEMTEST_ALL_PAGES, .memtest_on_all_cpus = false,
    };
    const char *cursor = cmdline;
    while (*cursor != 0) {
        while (*cursor == ' ' || *cursor == '\t')
            cursor++;
        const char *word = cursor;
        while (*cursor != 0 && *cursor != ' ' && *cursor != '\t')
            cursor++;
        if (cursor > word)
            apply_word(word, (usize)(cursor - word), &options);
    }
    return options;
}
