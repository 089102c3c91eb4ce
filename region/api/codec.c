#include "region/api/codec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/bootconf.h"
#include "common/net.h"
#include "common/util.h"
#include "region/db/db.h"

int api_fail_set(struct api_fail *fail, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(fail->field, sizeof(fail->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(fail->message, sizeof(fail->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define API_STR_(x) #x
#define API_STR(x)  API_STR_(x)

json_t *api_error_new(const char *code, const char *message, const char *field)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (!err)
		return NULL;
	if (field && *field && json_object_set_new(err, "field", json_string(field)) < 0) {
		json_decref(err);
		return NULL;
	}
	return json_pack("{s:o}", "error", err);
}

int api_time_format(int64_t unix_ms, char *buf, size_t len)
{
	/* Floor division so times before 1970 still print correctly. */
	int64_t secs = unix_ms / 1000, msec = unix_ms % 1000;
	if (msec < 0) {
		msec += 1000;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	char base[24];

	if (!gmtime_r(&t, &tm) || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -EINVAL;
	int n = snprintf(buf, len, "%s.%03dZ", base, (int)msec);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

json_t *api_time_json(int64_t unix_ms)
{
	char buf[API_TIME_STRLEN];

	if (unix_ms == 0 || api_time_format(unix_ms, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/",
 * then any number of "=". */
static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~+/", c) != NULL;
}

int api_bearer_parse(const char *header, char *key, size_t keylen)
{
	static const char scheme[] = "Bearer";
	size_t n;

	if (!header)
		return -ENOENT;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, scheme, sizeof(scheme) - 1) != 0)
		return -ENOENT;
	header += sizeof(scheme) - 1;
	if (*header != ' ' && *header != '\t')
		return *header == '\0' ? -EINVAL : -ENOENT;
	while (*header == ' ' || *header == '\t')
		header++;
	for (n = 0; header[n] && is_token_char(header[n]); n++)
		;
	while (header[n] == '=')
		n++;
	size_t end = n;
	while (header[end] == ' ' || header[end] == '\t')
		end++;
	if (n == 0 || header[end] != '\0' || n >= keylen)
		return -EINVAL;
	memcpy(key, header, n);
	key[n] = '\0';
	return 0;
}

int api_long_parse(const char *s, long min, long max, long *ret)
{
	char *end;

	if (!s || !*s || !(*s == '-' || (*s >= '0' && *s <= '9')))
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

void api_json_error_format(const json_error_t *e, char *buf, size_t len)
{
	snprintf(buf, len, "invalid JSON at line %d, column %d: %s", e->line, e->column, e->text);
}

static int fail_set(struct api_fail *fail, const char *field, const char *message)
{
	snprintf(fail->field, sizeof(fail->field), "%s", field);
	snprintf(fail->message, sizeof(fail->message), "%s", message);
	return -EINVAL;
}

static int settings_check(const json_t *settings, struct api_fail *fail)
{
	const char *k;
	json_t *v;

	if (!json_is_object(settings))
		return fail_set(fail, "settings", "settings must be an object of strings");
	if (json_object_size(settings) > API_SETTINGS_MAX)
		return fail_set(fail, "settings", "too many settings");
	json_object_foreach((json_t *)settings, k, v)
	{
		size_t kn = strlen(k);
		if (kn == 0)
			return fail_set(fail, "settings", "setting names must not be empty");
		if (kn > API_SETTING_KEY_MAX)
			return fail_set(fail, "settings",
					"setting names are at most " API_STR(API_SETTING_KEY_MAX) " bytes");
		if (!json_is_string(v)) {
			snprintf(fail->field, sizeof(fail->field), "settings.%s", k);
			snprintf(fail->message, sizeof(fail->message), "setting \"%s\" must be a string", k);
			return -EINVAL;
		}
	}
	return 0;
}

int api_config_body_check(const json_t *body, json_t **ret_settings, struct api_fail *fail)
{
	const char *k;
	json_t *v;

	if (!json_is_object(body))
		return fail_set(fail, "", "body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
	{
		if (strcmp(k, "settings") != 0 && strcmp(k, "boot_configs") != 0) {
			/* Refuse typos rather than silently pushing an empty config. */
			snprintf(fail->field, sizeof(fail->field), "%.*s", API_SETTING_KEY_MAX, k);
			snprintf(fail->message, sizeof(fail->message), "unknown field \"%.*s\"", 64, k);
			return -EINVAL;
		}
	}
	json_t *settings = json_object_get(body, "settings");
	if (!settings)
		return fail_set(fail, "settings", "settings is required");
	int r = settings_check(settings, fail);
	json_t *boot = json_object_get(body, "boot_configs");
	if (r == 0 && boot)
		r = api_boot_configs_check(boot, fail);
	if (r < 0)
		return r;
	*ret_settings = settings;
	return 0;
}

/* "boot_configs[2].kernel: why" */
static int boot_fail(struct api_fail *fail, size_t i, const char *member, const char *why)
{
	if (member)
		snprintf(fail->field, sizeof(fail->field), "boot_configs[%zu].%s", i, member);
	else
		snprintf(fail->field, sizeof(fail->field), "boot_configs[%zu]", i);
	snprintf(fail->message, sizeof(fail->message), "%s: %s", fail->field, why);
	return -EINVAL;
}

struct boot_mac_seen {
	uint64_t mac; /* 48 bits; UINT64_MAX for the default */
	size_t index;
};

static int boot_mac_cmp(const void *a, const void *b)
{
	const struct boot_mac_seen *x = a, *y = b;
	if (x->mac != y->mac)
		return x->mac < y->mac ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* One entry: members, types, values. */
static int boot_entry_check(const json_t *e, size_t i, struct boot_mac_seen *seen, struct api_fail *fail)
{
	static const char *const members[] = {"mac", "purpose", "kernel", "initrd", "cmdline"};
	const char *text[5] = {NULL};
	const char *k, *field, *why;
	json_t *v;

	if (!json_is_object(e))
		return boot_fail(fail, i, NULL, "must be an object");
	json_object_foreach((json_t *)e, k, v)
	{
		size_t m = 0;
		while (m < 5 && strcmp(k, members[m]) != 0)
			m++;
		if (m == 5) {
			char name[72];
			snprintf(name, sizeof(name), "%.64s", k);
			return boot_fail(fail, i, name, "unknown field");
		}
		if (!json_is_string(v))
			return boot_fail(fail, i, members[m], "must be a string");
		text[m] = json_string_value(v);
	}
	if (!text[0])
		return boot_fail(fail, i, "mac", "required (\"\" for the default config)");
	if (!text[1])
		return boot_fail(fail, i, "purpose", "required");
	struct boot_config c = {.kernel = text[2], .initrd = text[3], .cmdline = text[4]};
	if (text[0][0] && mac_parse(text[0], c.mac) < 0)
		return boot_fail(fail, i, "mac", "must be aa:bb:cc:dd:ee:ff, or \"\" for the default");
	if (boot_purpose_parse(text[1], &c.purpose) < 0)
		return boot_fail(fail, i, "purpose", "must be enlist, commission, deploy, erase, local or poweroff");
	if (boot_config_check(&c, &field, &why) < 0)
		return boot_fail(fail, i, field, why);
	seen->index = i;
	seen->mac = UINT64_MAX;
	if (text[0][0]) {
		seen->mac = 0;
		for (int b = 0; b < 6; b++)
			seen->mac = seen->mac << 8 | c.mac[b];
	}
	return 0;
}

int api_boot_configs_check(const json_t *arr, struct api_fail *fail)
{
	size_t n = json_array_size(arr);
	int r = 0;

	if (!json_is_array(arr))
		return fail_set(fail, "boot_configs", "boot_configs must be an array of objects");
	if (n > BOOT_CONFIGS_MAX)
		return fail_set(fail, "boot_configs", "too many boot configs (at most 65536)");
	struct boot_mac_seen *seen = xcalloc(n ? n : 1, sizeof(*seen));
	for (size_t i = 0; i < n && r == 0; i++)
		r = boot_entry_check(json_array_get(arr, i), i, &seen[i], fail);
	if (r == 0)
		qsort(seen, n, sizeof(*seen), boot_mac_cmp);
	for (size_t i = 1; r == 0 && i < n; i++) {
		if (seen[i].mac == seen[i - 1].mac)
			r = boot_fail(fail, seen[i].index, "mac",
				      seen[i].mac == UINT64_MAX ? "a second default config"
								: "the same mac appears twice");
	}
	free(seen);
	return r;
}

static json_t *iface_json(const struct rack_iface *ifc)
{
	json_t *addrs = json_array();
	json_t *o;

	if (!addrs)
		return NULL;
	for (size_t i = 0; i < ifc->n_addresses; i++) {
		if (json_array_append_new(addrs, json_string(ifc->addresses[i] ? ifc->addresses[i] : "")) < 0) {
			json_decref(addrs);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:s, s:I, s:o}", "name", ifc->name ? ifc->name : "", "mac", ifc->mac ? ifc->mac : "",
		      "vlan", (json_int_t)ifc->vlan, "addresses", addrs);
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *api_rack_json(const struct rack_row *row, bool connected)
{
	json_t *ifaces = json_array();

	if (!ifaces)
		return NULL;
	for (size_t i = 0; i < row->n_ifaces; i++) {
		if (json_array_append_new(ifaces, iface_json(&row->ifaces[i])) < 0) {
			json_decref(ifaces);
			return NULL;
		}
	}
	return json_pack("{s:s, s:o, s:o, s:b, s:o, s:o, s:o, s:I, s:I, s:o}", "id", row->id ? row->id : "", "hostname",
			 str_or_null(row->hostname), "version", str_or_null(row->version), "connected", connected,
			 "last_seen", api_time_json(row->last_seen_ms), "enrolled", api_time_json(row->enrolled_ms),
			 "registered", api_time_json(row->registered_ms), "config_version",
			 (json_int_t)row->config_version, "acked_config_version", (json_int_t)row->acked_config_version,
			 "interfaces", ifaces);
}
