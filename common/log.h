/* Process-wide logging for the daemons and the CLI.
 *
 * The logger is the one deliberate piece of process state in common/: like
 * syslog(3) it is configured once from main() and then used everywhere in
 * the shells. Codecs and engines do not log (see STYLE.md). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* ident: short program name printed on each line ("regiond", "rackd"). */
void log_setup(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Parse "error" | "warn" | "info" | "debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *ret);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
