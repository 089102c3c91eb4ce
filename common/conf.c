/* Configuration files: table-driven "key = value" parsing.
 *
 * Syntax, chosen so that values such as passwords and URLs with '#' in them
 * need no quoting in the common case:
 *
 *   - Blank lines are ignored. A line whose first non-blank character is '#'
 *     is a comment.
 *   - Otherwise the line is "key = value". The key is the text before the
 *     first '=', the value the text after it, both with surrounding blanks
 *     trimmed. Keys are matched exactly (underscores, not dashes).
 *   - In an unquoted value, '#' starts a trailing comment only when it
 *     follows a blank inside the value: "url = http://h/#x" keeps the '#',
 *     "n = 3  # three" is 3, and "color = #fff" is "#fff" (a value may
 *     begin with '#').
 *   - A value wrapped in double quotes is taken literally, for values with
 *     leading or trailing blanks or " #". There are no escapes, so a quoted
 *     value cannot contain '"'; after the closing quote only blanks and a
 *     comment may follow.
 *   - CRLF line endings and a leading UTF-8 byte order mark are accepted,
 *     since config files are often written on other systems.
 *   - Each key may appear once per file; command-line overrides (conf_set)
 *     win over the file.
 *
 * On error the target may have been partly updated; it stays owned by the
 * caller, who frees it with conf_free(). A reload therefore parses into a
 * fresh struct and swaps it in only on success. */
#include "common/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX (1024 * 1024)
/* Values are quoted in messages; a 4 KiB value would drown the message. */
#define CONF_QUOTE_MAX 64

/* Where errors go, and where they happened as a message prefix:
 * "etc/x.conf:3", "--state-dir" or "default". */
struct conf_ctx {
	const char *where;
	char *err;
	size_t errlen;
};

static int conf_error(const struct conf_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conf_error(const struct conf_ctx *ctx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!ctx->err || ctx->errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->where, msg);
	return -EINVAL;
}

static const char *ellipsis(const char *s)
{
	return strlen(s) > CONF_QUOTE_MAX ? "..." : "";
}

static void *field(const struct conf_key *k, void *target)
{
	return (char *)target + k->offset;
}

/* min == max == 0 means the row set no bounds. */
static bool in_range(const struct conf_key *k, long v)
{
	return (k->min == 0 && k->max == 0) || (v >= k->min && v <= k->max);
}

static int bad_value(const struct conf_ctx *ctx, const struct conf_key *k, const char *v, const char *what)
{
	return conf_error(ctx, "bad value for '%s': '%.*s%s' %s", k->name, CONF_QUOTE_MAX, v, ellipsis(v), what);
}

static int out_of_range(const struct conf_ctx *ctx, const struct conf_key *k)
{
	if (k->min == 0 && k->max == 0)
		return conf_error(ctx, "value for '%s' out of range", k->name);
	return conf_error(ctx, "value for '%s' out of range %ld..%ld", k->name, k->min, k->max);
}

static void set_string(char **dst, const char *v)
{
	char *s = xstrdup(v);

	free(*dst);
	*dst = s;
}

static int set_int(const struct conf_ctx *ctx, const struct conf_key *k, long *dst, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || isspace((unsigned char)*v))
		return bad_value(ctx, k, v, "is not an integer");
	if (errno == ERANGE || !in_range(k, n))
		return out_of_range(ctx, k);
	*dst = n;
	return 0;
}

/* "30" and "30s" are seconds; m, h and d scale. One unit only: "1h30m" is
 * rare enough in daemon config not to be worth the grammar. */
static int set_duration(const struct conf_ctx *ctx, const struct conf_key *k, long *dst, const char *v)
{
	const char *what = "is not a duration (e.g. 30s, 5m, 1h)";
	unsigned long long n = 0, mult = 1;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return bad_value(ctx, k, v, what);
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned)(*p - '0');
		if (n > LONG_MAX)
			return out_of_range(ctx, k);
	}
	switch (*p) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return bad_value(ctx, k, v, what);
	}
	if (*p != '\0' && p[1] != '\0')
		return bad_value(ctx, k, v, what);
	if (n > LONG_MAX / mult || !in_range(k, (long)(n * mult)))
		return out_of_range(ctx, k);
	*dst = (long)(n * mult);
	return 0;
}

static int set_bool(const struct conf_ctx *ctx, const struct conf_key *k, bool *dst, const char *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*dst = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*dst = false;
			return 0;
		}
	}
	return bad_value(ctx, k, v, "is not a boolean (true/false, yes/no, on/off, 1/0)");
}

static int set_endpoint(const struct conf_ctx *ctx, const struct conf_key *k, char **dst, const char *v)
{
	char host[256];
	uint16_t port;
	int r = endpoint_parse(v, 0, host, sizeof(host), &port);

	/* host[] holds any valid name, so -ENAMETOOLONG cannot happen here. */
	if (r < 0)
		return bad_value(ctx, k, v, "is not an endpoint (expected host:port)");
	/* Daemons have no sensible default port for each other: say it. A
	 * listener may ask for any free port with an explicit ":0" (tests,
	 * several daemons on one host); the daemon then reports the port. */
	size_t len = strlen(v);
	bool any = k->type == CONF_LISTEN && len >= 2 && strcmp(v + len - 2, ":0") == 0;
	if (port == 0 && len >= 2 && strcmp(v + len - 2, ":0") == 0 && !any)
		return bad_value(ctx, k, v, "has port 0 (only a listen address may ask for any free port)");
	if (port == 0 && !any)
		return bad_value(ctx, k, v, "has no port (expected host:port)");
	set_string(dst, v);
	return 0;
}

static void list_clear(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Split on commas and blanks; empty items are dropped, so "a, b" and "a,b"
 * and "a b" are the same list and "" is the empty list. */
static void set_list(struct conf_list *dst, const char *v)
{
	static const char seps[] = ", \t";
	struct conf_list l = {0};
	size_t cap = 0;

	for (const char *p = v + strspn(v, seps); *p; p += strspn(p, seps)) {
		size_t n = strcspn(p, seps);
		if (l.n == cap) {
			cap = cap ? cap * 2 : 4;
			l.items = xreallocarray(l.items, cap, sizeof(*l.items));
		}
		l.items[l.n++] = xstrndup(p, n);
		p += n;
	}
	list_clear(dst);
	*dst = l;
}

static int conf_value_set(const struct conf_ctx *ctx, const struct conf_key *k, void *target, const char *v)
{
	void *f = field(k, target);
	int r;

	switch (k->type) {
	case CONF_STRING:
		set_string(f, v);
		return 0;
	case CONF_PATH:
		if (v[0] != '/')
			return conf_error(ctx, "'%s' must be an absolute path", k->name);
		set_string(f, v);
		return 0;
	case CONF_INT:
		return set_int(ctx, k, f, v);
	case CONF_BOOL:
		return set_bool(ctx, k, f, v);
	case CONF_DURATION:
		return set_duration(ctx, k, f, v);
	case CONF_LOGLEVEL:
		r = log_level_parse(v, f);
		if (r < 0)
			return bad_value(ctx, k, v, "is not a log level (error, warn, info, debug)");
		return 0;
	case CONF_ENDPOINT:
	case CONF_LISTEN:
		return set_endpoint(ctx, k, f, v);
	case CONF_LIST:
		set_list(f, v);
		return 0;
	}
	return conf_error(ctx, "key '%s' has unknown type %d", k->name, (int)k->type);
}

/* Compare a table name with a key; with dashes, '-' in key matches '_'. */
static bool key_matches(const char *name, const char *key, bool dashes)
{
	for (; *name && *key; name++, key++) {
		if (*name != *key && !(dashes && *name == '_' && *key == '-'))
			return false;
	}
	return *name == '\0' && *key == '\0';
}

static const struct conf_key *conf_lookup(const struct conf_key *table, size_t n, const char *key, bool dashes)
{
	for (size_t i = 0; i < n; i++) {
		if (key_matches(table[i].name, key, dashes))
			return &table[i];
	}
	return NULL;
}

const struct conf_key *conf_find(const struct conf_key *table, size_t n, const char *key)
{
	return conf_lookup(table, n, key, false);
}

int conf_defaults(const struct conf_key *table, size_t n, void *target, char *err, size_t errlen)
{
	struct conf_ctx ctx = {"default", err, errlen};

	for (size_t i = 0; i < n; i++) {
		if (!table[i].def)
			continue;
		int r = conf_value_set(&ctx, &table[i], target, table[i].def);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "--heartbeat-interval" for the key "heartbeat_interval" or its dashed form. */
static void option_name(const char *key, char *buf, size_t len)
{
	int n = snprintf(buf, len, "--%s", key);

	for (char *p = buf + 2; n > 2 && *p; p++) {
		if (*p == '_')
			*p = '-';
	}
}

int conf_set(const struct conf_key *table, size_t n, void *target, const char *key, const char *value, char *err,
	     size_t errlen)
{
	char opt[128];
	struct conf_ctx ctx = {opt, err, errlen};
	const struct conf_key *k;

	option_name(key, opt, sizeof(opt));
	k = conf_lookup(table, n, key, true);
	if (!k)
		return conf_error(&ctx, "unknown key '%s'", key);
	return conf_value_set(&ctx, k, target, value);
}

void conf_free(const struct conf_key *table, size_t n, void *target)
{
	for (size_t i = 0; i < n; i++) {
		void *f = field(&table[i], target);
		switch (table[i].type) {
		case CONF_STRING:
		case CONF_PATH:
		case CONF_ENDPOINT:
		case CONF_LISTEN:
			free(*(char **)f);
			*(char **)f = NULL;
			break;
		case CONF_LIST:
			list_clear(f);
			break;
		default:
			break;
		}
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Turn the text after '=' into the value, in place: trailing comment,
 * blanks and quotes removed. NULL with a message on a malformed quote. */
static char *value_extract(const struct conf_ctx *ctx, char *s)
{
	s = trim(s);
	if (*s != '"') {
		for (char *p = s; *p; p++) {
			if (*p == '#' && p > s && is_blank(p[-1])) {
				*p = '\0';
				break;
			}
		}
		return trim(s);
	}
	char *close = strchr(s + 1, '"');
	if (!close) {
		conf_error(ctx, "unterminated quote");
		return NULL;
	}
	*close = '\0';
	char *rest = close + 1;
	while (is_blank(*rest))
		rest++;
	if (*rest != '\0' && !(*rest == '#' && is_blank(close[1]))) {
		conf_error(ctx, "unexpected text after closing quote");
		return NULL;
	}
	return s + 1;
}

struct conf_parser {
	const struct conf_key *table;
	size_t n;
	void *target;
	unsigned *seen; /* line each key was set on, 0 = not yet */
};

static int conf_line_parse(struct conf_parser *ps, const struct conf_ctx *ctx, char *line, unsigned lineno)
{
	char *eq, *key, *value;
	const struct conf_key *k;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return conf_error(ctx, "expected 'key = value'");
	*eq = '\0';
	key = trim(line);
	if (*key == '\0' || strpbrk(key, " \t"))
		return conf_error(ctx, "expected 'key = value'");
	k = conf_find(ps->table, ps->n, key);
	if (!k) {
		const struct conf_key *alt = conf_lookup(ps->table, ps->n, key, true);
		if (alt)
			return conf_error(ctx, "unknown key '%s' (did you mean '%s'?)", key, alt->name);
		return conf_error(ctx, "unknown key '%s'", key);
	}
	size_t i = (size_t)(k - ps->table);
	if (ps->seen[i])
		return conf_error(ctx, "duplicate key '%s' (first set on line %u)", key, ps->seen[i]);
	value = value_extract(ctx, eq + 1);
	if (!value)
		return -EINVAL;
	int r = conf_value_set(ctx, k, ps->target, value);
	if (r < 0)
		return r;
	ps->seen[i] = lineno;
	return 0;
}

/* text need not be NUL-terminated: len bytes are parsed, and a NUL among
 * them is an error rather than a silent end of file. */
static int conf_parse(const char *name, const char *text, size_t len, struct conf_parser *ps, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 2], where[512];
	struct conf_ctx ctx = {where, err, errlen};
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		snprintf(where, sizeof(where), "%s:%u", name, ++lineno);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > CONF_LINE_MAX)
			return conf_error(&ctx, "line too long (more than %d bytes)", CONF_LINE_MAX);
		if (memchr(p, '\0', n))
			return conf_error(&ctx, "NUL byte in line");
		memcpy(line, p, n);
		line[n] = '\0';
		int r = conf_line_parse(ps, &ctx, line, lineno);
		if (r < 0)
			return r;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int conf_parse_text(const char *name, const char *text, size_t len, const struct conf_key *table, size_t n,
			   void *target, char *err, size_t errlen)
{
	struct conf_parser ps = {table, n, target, xcalloc(n, sizeof(unsigned))};
	int r = conf_parse(name, text, len, &ps, err, errlen);
	free(ps.seen);
	return r;
}

int conf_load_buffer(const char *name, const char *text, const struct conf_key *table, size_t n, void *target,
		     char *err, size_t errlen)
{
	return conf_parse_text(name, text, strlen(text), table, n, target, err, errlen);
}

int conf_load_file(const char *path, const struct conf_key *table, size_t n, void *target, char *err, size_t errlen)
{
	char *data;
	size_t len;
	int r = fs_read_all(path, CONF_FILE_MAX, &data, &len);

	if (r == -EFBIG) {
		if (err && errlen)
			snprintf(err, errlen, "%s: file too large (more than %d bytes)", path, CONF_FILE_MAX);
		return r;
	}
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = conf_parse_text(path, data, len, table, n, target, err, errlen);
	free(data);
	return r;
}

static const char *const conf_metavar = "VALUE";

void conf_print_help(const struct conf_key *table, size_t n, FILE *out)
{
	char opt[128];
	int width = 0;

	/* Align the help column on the longest option. */
	for (size_t i = 0; i < n; i++) {
		option_name(table[i].name, opt, sizeof(opt));
		int w = (int)strlen(opt) + 1 + (int)strlen(conf_metavar);
		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		const struct conf_key *k = &table[i];
		char col[160];

		option_name(k->name, opt, sizeof(opt));
		snprintf(col, sizeof(col), "%s %s", opt, conf_metavar);
		fprintf(out, "  %-*s", width, col);
		if (k->help)
			fprintf(out, "  %s", k->help);
		if (k->def)
			fprintf(out, "%s(default: %s)", k->help ? " " : "  ", k->def[0] ? k->def : "\"\"");
		fputc('\n', out);
	}
}
