/* Configuration files: plain "key = value" lines, '#' comments, blank lines.
 *
 * A daemon describes its configuration as a table of rows (name, type,
 * offset into its config struct, bounds, default, help), nginx-style; the
 * same table parses the file, applies command-line overrides, prints --help
 * and is the source of the documentation. Errors name file:line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_type {
	CONF_STRING,   /* char *, malloc'd; "" allowed */
	CONF_PATH,     /* char *, must be absolute */
	CONF_INT,      /* long, within [min, max] */
	CONF_BOOL,     /* bool: true/false/yes/no/on/off/1/0 */
	CONF_DURATION, /* long seconds; accepts "30", "30s", "5m", "3h", "1d"; [min, max] */
	CONF_LOGLEVEL, /* enum log_level (int-sized) */
	CONF_ENDPOINT, /* char *, "host:port" validated with endpoint_parse */
	CONF_LISTEN,   /* the same for an address to listen on: port 0 = any free port */
	CONF_LIST,     /* struct conf_list: comma and/or space separated strings */
};

struct conf_list {
	char **items; /* malloc'd strings */
	size_t n;
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;	 /* offsetof(struct your_conf, field) */
	long min, max;	 /* CONF_INT / CONF_DURATION bounds; both 0 = unbounded */
	const char *def; /* default as text (parsed like a file value), NULL = none */
	const char *help;
};

/* Set every key with a default in target (call once, before load/set). */
int conf_defaults(const struct conf_key *table, size_t n, void *target, char *err, size_t errlen);

/* Parse a file into target. Unknown key, missing '=', bad value, duplicate
 * key: -EINVAL with err = "PATH:LINE: message". Missing file: -ENOENT with
 * err naming it. */
int conf_load_file(const char *path, const struct conf_key *table, size_t n, void *target, char *err, size_t errlen);

/* Parse text (for tests and for the file loader); name is used in errors. */
int conf_load_buffer(const char *name, const char *text, const struct conf_key *table, size_t n, void *target,
		     char *err, size_t errlen);

/* Set one key from text (command-line override). Accepts the key with '-' in
 * place of '_'. Error message names the key. */
int conf_set(const struct conf_key *table, size_t n, void *target, const char *key, const char *value, char *err,
	     size_t errlen);

const struct conf_key *conf_find(const struct conf_key *table, size_t n, const char *key);

/* Free every CONF_STRING/PATH/ENDPOINT/LIST value in target. */
void conf_free(const struct conf_key *table, size_t n, void *target);

/* Print "  --key-name VALUE   help (default: x)" lines for --help. */
void conf_print_help(const struct conf_key *table, size_t n, FILE *out);
