/* Process-wide logging for the daemons and the CLI.
 *
 * The logger is the one deliberate piece of process state in common/: like
 * syslog(3) it is configured once from main() and then used everywhere in
 * the shells. Codecs and engines do not log (see STYLE.md). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* ident: short program name printed on each line ("regiond", "rackd"). */
void log_setup(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Parse "error" | "warn" | "info" | "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *ret);
const char *log_level_name(enum log_level level);

/* Every line passes log_vmsg(), which escapes the formatted message with
 * log_escape() before writing it: a string from a peer (a hostname with a
 * newline, a terminal escape) can neither split a line nor forge one. */

/* log_escape() flags. */
enum {
	/* Also escape '"' and '\\' (for a string shown between quotes). */
	LOG_ESCAPE_QUOTED = 1u << 0,
};

/* Copy src[0, src_len) to dst with every byte that could split, forge or
 * recolour a log line escaped: \n \r \t, other C0 controls, DEL, C1
 * controls (U+0080..U+009F), the Unicode line/paragraph separators and
 * bidirectional overrides (as \xNN per byte), and bytes that are not valid
 * UTF-8 (\xNN). Valid UTF-8 text passes unchanged. dst is always
 * NUL-terminated (dst_size >= 1); an escape is never cut in half. Returns the
 * number of bytes of src consumed: less than src_len when dst was too small.
 * Pure: fuzz-friendly, no state. */
size_t log_escape(char *dst, size_t dst_size, const char *src, size_t src_len, unsigned flags);

/* A peer string quoted for a log line: "text" escaped as above (plus '"' and
 * '\\'), cut to fit buf with "..." after the closing quote when it is
 * longer; NULL gives (null). Returns buf. Use for hostnames, interface
 * names, paths and option text so their extent is visible on the line:
 *   char q[LOG_QUOTE_SIZE];
 *   log_warn("enrol refused for %s", log_quote(q, sizeof(q), hostname)); */
#define LOG_QUOTE_SIZE 160
const char *log_quote(char *buf, size_t size, const char *s);
/* The same for a string of len bytes that may hold NULs (DHCP option text). */
const char *log_quote_n(char *buf, size_t size, const char *s, size_t len);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
