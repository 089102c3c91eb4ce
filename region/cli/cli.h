/* The `ironrack` CLI: a client of the region's REST API (libcurl +
 * jansson). It links only common/ code, never region internals.
 *
 * args.c, table.c and format.c are pure (no I/O except writing a table to
 * a FILE the caller gives) and are unit-tested by tests/unit/test_cli.c,
 * which includes them directly. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses: a usage error is 2 so scripts can tell it from a failed
 * request (1). */
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_TIMEOUT_MIN_MS 1
#define CLI_TIMEOUT_MAX_MS 60000

/* ---- args.c ---- */

enum cli_opt {
	CLI_OPT_URL = 1u << 0,
	CLI_OPT_KEY = 1u << 1,
	CLI_OPT_JSON = 1u << 2,
	CLI_OPT_TIMEOUT = 1u << 3,
	CLI_OPT_HELP = 1u << 4,
	CLI_OPT_VERSION = 1u << 5,
	/* Options with a value that only some commands take; their value is
	 * in cli_args.values (cli_opt_value()). */
	CLI_OPT_COUNT = 1u << 6,
	CLI_OPT_PORTS = 1u << 7,
	CLI_OPT_TYPE = 1u << 8,
	CLI_OPT_SIZE = 1u << 9,
	CLI_OPT_DESCRIPTION = 1u << 10,
	CLI_OPT_FABRIC = 1u << 11,
	CLI_OPT_ZONE = 1u << 12,
	CLI_OPT_WAN_POOLS = 1u << 13,
	/* the network model's commands (net_cmds.c) */
	CLI_OPT_SUBNET = 1u << 14,
	CLI_OPT_START = 1u << 15,
	CLI_OPT_END = 1u << 16,
	CLI_OPT_IP = 1u << 17,
	CLI_OPT_HOSTNAME = 1u << 18,
	CLI_OPT_COMMENT = 1u << 19,
	CLI_OPT_MODE = 1u << 20,
	CLI_OPT_NAME = 1u << 21,
	CLI_OPT_GATEWAY = 1u << 22,
	CLI_OPT_VID = 1u << 23,
	/* the power commands (power.c) */
	CLI_OPT_WAIT = 1u << 24,
	CLI_OPT_BOOT = 1u << 25,
	CLI_OPT_BOOT_PERSISTENT = 1u << 26,
	CLI_OPT_BOOT_EFI = 1u << 27,
	CLI_OPT_LIMIT = 1u << 28,
	/* machines list (machines.c) */
	CLI_OPT_STATUS = 1u << 29,
	/* images add (images.c) */
	CLI_OPT_ARCH = 1u << 30,
	CLI_OPT_FORMAT = 1u << 31,
};
/* Options past bit 31 are 64-bit constants (an enum constant is an int). */
/* machines allocate (machines_alloc.c) */
#define CLI_OPT_MIN_CPU	   (UINT64_C(1) << 32)
#define CLI_OPT_MIN_MEMORY (UINT64_C(1) << 33)
#define CLI_OPT_MIN_DISK   (UINT64_C(1) << 34)
#define CLI_OPT_TAGS	   (UINT64_C(1) << 35)
/* machines deploy and release (machines_deploy.c) */
#define CLI_OPT_IMAGE	  (UINT64_C(1) << 36)
#define CLI_OPT_USER_DATA (UINT64_C(1) << 37)
#define CLI_OPT_SSH_KEY	  (UINT64_C(1) << 38) /* may be given more than once */
#define CLI_OPT_ERASE	  (UINT64_C(1) << 39)
/* https:// (session.c): the region CA to trust, and at login the
 * fingerprint it must have */
#define CLI_OPT_CA	       (UINT64_C(1) << 40)
#define CLI_OPT_CA_FINGERPRINT (UINT64_C(1) << 41)
#define CLI_OPT_BITS	       64

/* discoveries list (discoveries.c) */
#define CLI_OPT_UNKNOWN (UINT64_C(1) << 42)

/* The command line split into options (accepted anywhere, as in
 * `ironrack racks list --json`) and the remaining words. */
struct cli_args {
	uint64_t given;			  /* enum cli_opt (and CLI_OPT_*) bits seen */
	const char *url;		  /* --url, borrowed from argv */
	const char *key;		  /* --key, borrowed from argv */
	long timeout_ms;		  /* --timeout, 0 when not given (its text is in values too) */
	const char *values[CLI_OPT_BITS]; /* other options' values by bit number, borrowed */
	char **words;			  /* malloc'd array of pointers into argv */
	size_t n_words;
	/* Every option value in the order given (an option given twice is
	 * here twice; values keeps the last): malloc'd, borrowed strings. */
	struct cli_opt_given {
		uint64_t opt;
		const char *value;
	} * given_values;
	size_t n_given_values;
};

/* Parse argv[1..argc-1]. -EINVAL with err set for an unknown option, a
 * missing or bad option value. "--" ends the options. */
int cli_args_parse(int argc, char **argv, struct cli_args *ret, char *err, size_t errlen);
void cli_args_done(struct cli_args *a);
/* The name of the first option in mask, for messages ("--json"). */
const char *cli_opt_name(uint64_t mask);
/* The value given for a value option (CLI_OPT_COUNT, ...), NULL if none. */
const char *cli_opt_value(const struct cli_args *a, uint64_t opt);
/* How many times opt was given with a value; the first max of them, in
 * order, in ret. */
size_t cli_opt_values(const struct cli_args *a, uint64_t opt, const char **ret, size_t max);

/* "KEY=VALUE" -> key and value pointers into a copy the caller frees with
 * *ret_buf. -EINVAL without '=' or with an empty key. */
int cli_setting_parse(const char *arg, char **ret_buf, const char **ret_key, const char **ret_value);

/* Normalise a region URL: add "http://" when no scheme is given, refuse
 * schemes other than http/https, drop trailing '/' and a pasted "/api/v1".
 * -EINVAL for an empty or unusable URL, -ENOSPC if out is too small. */
int cli_url_normalize(const char *in, char *out, size_t len);

/* ---- table.c ---- */

struct cli_table {
	size_t ncols;
	char **cells; /* nrows * ncols malloc'd strings (the header is row 0) */
	size_t nrows, cap;
};

/* headers: ncols column titles, or NULL for a table without a header.
 * -EINVAL for ncols 0. */
int cli_table_init(struct cli_table *t, const char *const *headers, size_t ncols);
/* Append a row of ncols cells (copied; NULL prints as "-"). Control
 * characters are replaced by '?' so data from the region cannot drive the
 * terminal. */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Display width of each column (UTF-8 code points). widths has ncols. */
void cli_table_widths(const struct cli_table *t, size_t *widths);
/* Columns separated by two spaces; the last column is not padded. */
int cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_done(struct cli_table *t);
/* Code points in a UTF-8 string (invalid bytes count one each). */
size_t cli_text_width(const char *s);
/* Replace control characters (C0 and DEL) with '?', in place. */
void cli_text_sanitize(char *s);

/* ---- format.c ---- */

/* "2024-05-01T12:00:00Z", with optional fraction and "+hh:mm" offset. */
int cli_rfc3339_parse(const char *s, int64_t *ret_ms);
/* now - then as "3s ago", "5m ago", "2h ago", "4d ago"; "in 5s" when then
 * is ahead of now by more than a second (clock skew). */
void cli_reltime_format(int64_t now_ms, int64_t then_ms, char *buf, size_t len);
/* last_seen (RFC 3339 string or null) as relative time; "never" for null,
 * "?" for text that does not parse. */
void cli_last_seen_format(const json_t *last_seen, int64_t now_ms, char *buf, size_t len);
/* "eth0 02:00:00:00:00:01 192.0.2.10/24; eth1 ..." (" vlan N" after the
 * MAC when tagged; "-" when none). Truncated with "..." to fit. */
void cli_ifaces_format(const json_t *ifaces, char *buf, size_t len);
/* "acked/latest", e.g. "2/3"; "-" when the rack has no config. */
void cli_config_format(const json_t *rack, char *buf, size_t len);
/* A power_options-like object {"cipher_suite": "17", ...} as
 * "cipher_suite=17, ..." (malloc'd); "-" when it is empty. */
char *cli_options_text(const json_t *opts);
/* A decimal integer from min to max, nothing else: 0, or -EINVAL. */
int cli_number_parse(const char *s, long min, long max, long *ret);
