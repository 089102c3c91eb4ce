/* Turning the API's rack JSON into the short text the CLI shows. Pure:
 * the caller passes "now". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "region/cli/cli.h"

static int digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* "+hh:mm" / "-hh:mm" / "Z" at s: offset east of UTC in seconds. */
static int offset_parse(const char *s, long *ret)
{
	int hh, mm;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*ret = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' || digits(s + 1, 2, &hh) < 0 ||
	    digits(s + 4, 2, &mm) < 0 || hh > 23 || mm > 59)
		return -EINVAL;
	*ret = (s[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
	return 0;
}

int cli_rfc3339_parse(const char *s, int64_t *ret_ms)
{
	struct tm tm;
	int y, mo, d, h, mi, se, ms = 0;
	long off;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (digits(s, 4, &y) < 0 || digits(s + 5, 2, &mo) < 0 || digits(s + 8, 2, &d) < 0 ||
	    digits(s + 11, 2, &h) < 0 || digits(s + 14, 2, &mi) < 0 || digits(s + 17, 2, &se) < 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	const char *p = s + 19;
	if (*p == '.') {
		int scale = 100, nd = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, nd++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (nd == 0)
			return -EINVAL;
	}
	if (offset_parse(p, &off) < 0)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	*ret_ms = ((int64_t)t - off) * 1000 + ms;
	return 0;
}

void cli_reltime_format(int64_t now_ms, int64_t then_ms, char *buf, size_t len)
{
	int64_t d = now_ms - then_ms;
	bool future = d < -1000;
	int64_t s = (future ? -d : d) / 1000;
	const char *unit = "s";
	int64_t v = s;

	if (s < 0)
		s = v = 0;
	if (s >= 2 * 86400) {
		v = s / 86400;
		unit = "d";
	} else if (s >= 3600) {
		v = s / 3600;
		unit = "h";
	} else if (s >= 60) {
		v = s / 60;
		unit = "m";
	}
	if (future)
		snprintf(buf, len, "in %lld%s", (long long)v, unit);
	else
		snprintf(buf, len, "%lld%s ago", (long long)v, unit);
}

void cli_last_seen_format(const json_t *last_seen, int64_t now_ms, char *buf, size_t len)
{
	int64_t ms;

	if (!json_is_string(last_seen))
		snprintf(buf, len, "never");
	else if (cli_rfc3339_parse(json_string_value(last_seen), &ms) < 0)
		snprintf(buf, len, "?");
	else
		cli_reltime_format(now_ms, ms, buf, len);
}

/* Append text to buf (at *used), truncating with "..." when full. */
static void append(char *buf, size_t len, size_t *used, const char *text)
{
	if (*used >= len)
		return;
	int n = snprintf(buf + *used, len - *used, "%s", text);
	if (n < 0 || (size_t)n >= len - *used) {
		*used = len;
		if (len >= 4)
			memcpy(buf + len - 4, "...", 4);
		return;
	}
	*used += (size_t)n;
}

static void iface_format(const json_t *ifc, char *buf, size_t len, size_t *used)
{
	const char *name = json_string_value(json_object_get(ifc, "name"));
	const char *mac = json_string_value(json_object_get(ifc, "mac"));
	json_int_t vlan = json_integer_value(json_object_get(ifc, "vlan"));
	const json_t *addrs = json_object_get(ifc, "addresses");
	char tmp[32];
	size_t i;
	const json_t *a;

	append(buf, len, used, name && *name ? name : "?");
	if (mac && *mac) {
		append(buf, len, used, " ");
		append(buf, len, used, mac);
	}
	if (vlan) {
		snprintf(tmp, sizeof(tmp), " vlan %lld", (long long)vlan);
		append(buf, len, used, tmp);
	}
	json_array_foreach(addrs, i, a)
	{
		append(buf, len, used, i == 0 ? " " : ",");
		append(buf, len, used, json_is_string(a) ? json_string_value(a) : "?");
	}
}

void cli_ifaces_format(const json_t *ifaces, char *buf, size_t len)
{
	size_t used = 0, i;
	const json_t *ifc;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!json_is_array(ifaces) || json_array_size(ifaces) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	json_array_foreach(ifaces, i, ifc)
	{
		if (i > 0)
			append(buf, len, &used, "; ");
		iface_format(ifc, buf, len, &used);
	}
}

void cli_config_format(const json_t *rack, char *buf, size_t len)
{
	json_int_t latest = json_integer_value(json_object_get(rack, "config_version"));
	json_int_t acked = json_integer_value(json_object_get(rack, "acked_config_version"));

	if (latest == 0 && acked == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld/%lld", (long long)acked, (long long)latest);
}

char *cli_options_text(const json_t *opts)
{
	const char *key;
	const json_t *v;
	char *text = xstrdup("");

	json_object_foreach((json_t *)opts, key, v)
	{
		char *next = xasprintf("%s%s%s=%s", text, *text ? ", " : "", key,
				       json_is_string(v) ? json_string_value(v) : "?");
		free(text);
		text = next;
	}
	if (!*text) {
		free(text);
		text = xstrdup("-");
	}
	return text;
}

int cli_number_parse(const char *s, long min, long max, long *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}
