/* REST API codec: JSON bodies and header/query text <-> our structs.
 * Pure: no I/O, no libevent, no clock, no logging. Every json_t returned is
 * a new reference owned by the caller. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rack_row;

/* "2024-05-01T12:00:00.123Z" plus NUL */
#define API_TIME_STRLEN 32
/* API keys are "irk_" + 40 hex; anything much longer is not a key. */
#define API_KEY_MAX 128
/* A config push names at most this many settings. */
#define API_SETTINGS_MAX    1024
#define API_SETTING_KEY_MAX 128

/* Why a request body was refused: field is "" or a dotted path. */
struct api_fail {
	char field[API_SETTING_KEY_MAX + 32];
	char message[256];
};

/* Fill *fail (field, printf-style message) and return -EINVAL. */
int api_fail_set(struct api_fail *fail, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* {"error":{"code":code,"message":message[,"field":field]}}; field may be
 * NULL or "". NULL only when out of memory. */
json_t *api_error_new(const char *code, const char *message, const char *field);

/* RFC 3339 UTC with milliseconds. -ENOSPC if buf is too small. */
int api_time_format(int64_t unix_ms, char *buf, size_t len);
/* The time as a JSON string, or JSON null when unix_ms is 0 ("never"). */
json_t *api_time_json(int64_t unix_ms);

/* The key from an "Authorization: Bearer <key>" header value (scheme case
 * insensitive). -ENOENT: no header or another scheme (no key was sent).
 * -EINVAL: a Bearer header whose token is empty, malformed or longer than
 * keylen - 1 (a key was sent, but it cannot be valid). */
int api_bearer_parse(const char *header, char *key, size_t keylen);

/* A decimal integer within [min, max] and nothing else. -EINVAL for text
 * that is not a number, -ERANGE outside the bounds. */
int api_long_parse(const char *s, long min, long max, long *ret);

/* "invalid JSON at line L, column C: text" from a jansson error. */
void api_json_error_format(const json_error_t *e, char *buf, size_t len);

/* Check a config push body {"settings":{"k":"v",...}[, "boot_configs":
 * [...]]}: an object with settings, whose values are all strings, and
 * optionally boot_configs (api_boot_configs_check); nothing else. On
 * success *ret_settings borrows from body. -EINVAL with fail filled
 * otherwise. */
int api_config_body_check(const json_t *body, json_t **ret_settings, struct api_fail *fail);

/* Check a boot_configs array: at most BOOT_CONFIGS_MAX objects with the
 * string members mac ("aa:bb:cc:dd:ee:ff", or "" for the default; each
 * MAC and the default at most once), purpose (enlist, commission, deploy,
 * local, poweroff), kernel, initrd and cmdline, each valid by
 * boot_config_check() (common/bootconf.h) — the rules the rack applies
 * again. fail->field names the member: "boot_configs[2].kernel". */
int api_boot_configs_check(const json_t *arr, struct api_fail *fail);

/* A rack as the API shows it. connected is the caller's decision (live
 * session or database flag). NULL only when out of memory. */
json_t *api_rack_json(const struct rack_row *row, bool connected);
