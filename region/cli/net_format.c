/* The network commands' text: KEY=VALUE words to JSON, JSON to tables.
 * Pure apart from writing to the FILE it is given. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "region/cli/net_cli.h"

const struct cli_net_opt cli_net_opts[] = {
    {CLI_OPT_SUBNET, "subnet"},	    {CLI_OPT_START, "start_ip"},
    {CLI_OPT_END, "end_ip"},	    {CLI_OPT_IP, "ip"},
    {CLI_OPT_HOSTNAME, "hostname"}, {CLI_OPT_COMMENT, "comment"},
    {CLI_OPT_MODE, "mode"},	    {CLI_OPT_NAME, "name"},
    {CLI_OPT_GATEWAY, "gateway"},   {CLI_OPT_VID, "vid"},
    {CLI_OPT_TYPE, "type"},	    {CLI_OPT_FABRIC, "fabric"},
    {CLI_OPT_ZONE, "zone"},	    {CLI_OPT_DESCRIPTION, "description"},
};
const size_t cli_net_opts_n = sizeof(cli_net_opts) / sizeof(cli_net_opts[0]);

static const char *const int_keys[] = {
    "vid", "mtu", "metric", "discovery_interval", "limit", "offset", "dhcp_lease_time", "code", NULL};
static const char *const bool_keys[] = {"managed",   "dhcp_on", "active_discovery",	"allow_proxy",
					"allow_dns", "enabled", "dhcp_match_client_id", NULL};
static const char *const list_keys[] = {"dns_servers", "ntp_servers", "tags", NULL};

static bool in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

json_t *cli_net_value(const char *key, const char *value, char *err, size_t errlen)
{
	if (!*value)
		return json_null();
	if (in_list(int_keys, key)) {
		char *end;
		long long v = strtoll(value, &end, 10);
		/* an interval also as 90s, 30m, 3h, 1d */
		long long unit = !*end || end[1] || strcmp(key, "discovery_interval") != 0 ? 0
				 : *end == 's'						   ? 1
				 : *end == 'm'						   ? 60
				 : *end == 'h'						   ? 3600
				 : *end == 'd'						   ? 86400
											   : 0;
		if (unit && end != value && v >= 0 && v <= 1000000) {
			v *= unit;
			end++;
		}
		if (*end || !((*value >= '0' && *value <= '9') || *value == '-')) {
			snprintf(err, errlen, "%s wants an integer, not \"%s\"", key, value);
			return NULL;
		}
		return json_integer((json_int_t)v);
	}
	if (in_list(bool_keys, key)) {
		if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on"))
			return json_true();
		if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcasecmp(value, "off"))
			return json_false();
		snprintf(err, errlen, "%s wants true or false, not \"%s\"", key, value);
		return NULL;
	}
	if (in_list(list_keys, key)) {
		json_t *arr = json_array();
		for (const char *p = value; arr && *p;) {
			size_t n = strcspn(p, ",");
			if (n)
				json_array_append_new(arr, json_stringn(p, n));
			p += n;
			p += *p == ',';
		}
		return arr;
	}
	return json_string(value);
}

int cli_net_body_add(json_t *body, char **words, size_t n, const char *primary, char *err, size_t errlen)
{
	bool primary_used = false;

	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(words[i], '=');
		char key[64];
		const char *value;

		if (!eq) {
			if (!primary || primary_used) {
				snprintf(err, errlen, "\"%s\" is not KEY=VALUE", words[i]);
				return -EINVAL;
			}
			snprintf(key, sizeof(key), "%s", primary);
			value = words[i];
			primary_used = true;
		} else {
			if (eq == words[i] || (size_t)(eq - words[i]) >= sizeof(key)) {
				snprintf(err, errlen, "\"%s\" is not KEY=VALUE", words[i]);
				return -EINVAL;
			}
			snprintf(key, sizeof(key), "%.*s", (int)(eq - words[i]), words[i]);
			value = eq + 1;
		}
		if (json_object_get(body, key)) {
			snprintf(err, errlen, "%s given twice", key);
			return -EINVAL;
		}
		json_t *v = cli_net_value(key, value, err, errlen);
		if (!v || json_object_set_new(body, key, v) < 0)
			return -EINVAL;
	}
	return 0;
}

void cli_net_path_key(const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", key);
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '-';
}

int cli_net_query(char **words, size_t n, char *(*escape)(const char *), char *buf, size_t len, char *err,
		  size_t errlen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(words[i], '=');
		if (!eq || eq == words[i]) {
			snprintf(err, errlen, "\"%s\" is not FILTER=VALUE", words[i]);
			return -EINVAL;
		}
		char *k = strndup(words[i], (size_t)(eq - words[i]));
		char *ek = k ? escape(k) : NULL, *ev = escape(eq + 1);
		int w = ek && ev ? snprintf(buf + used, len - used, "%c%s=%s", used ? '&' : '?', ek, ev) : -1;
		free(k);
		free(ek);
		free(ev);
		if (w < 0 || (size_t)w >= len - used) {
			snprintf(err, errlen, "filters too long");
			return -ENOSPC;
		}
		used += (size_t)w;
	}
	return 0;
}

void cli_net_cell(const json_t *o, const struct cli_net_col *c, int64_t now_ms, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, c->key);
	size_t i, used = 0;
	const json_t *e;

	if (!v || json_is_null(v)) {
		snprintf(buf, len, "-");
		return;
	}
	switch (c->fmt) {
	case CLI_NF_BOOL:
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
		return;
	case CLI_NF_AGO:
		cli_last_seen_format(v, now_ms, buf, len);
		return;
	case CLI_NF_LIST:
		buf[0] = '\0';
		json_array_foreach(v, i, e)
		{
			int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 json_is_string(e) ? json_string_value(e) : "?");
			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
		if (used == 0)
			snprintf(buf, len, "-");
		return;
	case CLI_NF_TEXT:
		break;
	}
	if (json_is_string(v))
		snprintf(buf, len, "%s", *json_string_value(v) ? json_string_value(v) : "-");
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "?");
}

int cli_net_table_print(const struct cli_net_group *g, const json_t *items, int64_t now_ms, FILE *out)
{
	const char *headers[16];
	char cells[16][512];
	const char *row[16];
	struct cli_table t;
	size_t i;
	const json_t *o;

	if (g->n_cols > 16)
		return -EINVAL;
	for (size_t c = 0; c < g->n_cols; c++) {
		headers[c] = g->cols[c].header;
		row[c] = cells[c];
	}
	if (cli_table_init(&t, headers, g->n_cols) < 0)
		return -EINVAL;
	json_array_foreach(items, i, o)
	{
		for (size_t c = 0; c < g->n_cols; c++)
			cli_net_cell(o, &g->cols[c], now_ms, cells[c], sizeof(cells[c]));
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

int cli_net_object_print(const json_t *o, int64_t now_ms, FILE *out)
{
	struct cli_table t;
	const char *key;
	json_t *v;
	char label[80], cell[1024];

	if (cli_table_init(&t, NULL, 2) < 0)
		return -EINVAL;
	json_object_foreach((json_t *)o, key, v)
	{
		struct cli_net_col c = {key, key, json_is_array(v) ? CLI_NF_LIST : CLI_NF_TEXT};
		snprintf(label, sizeof(label), "%s:", key);
		cli_net_cell(o, &c, now_ms, cell, sizeof(cell));
		const char *row[] = {label, cell};
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

/* A count that is a JSON integer or, for huge IPv6 counts, a string. */
static void count_format(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else
		snprintf(buf, len, "?");
}

void cli_net_utilisation_format(const json_t *u, char *buf, size_t len)
{
	char total[48], avail[48], size[48];
	const json_t *lf = json_object_get(u, "largest_free");

	count_format(json_object_get(u, "total"), total, sizeof(total));
	count_format(json_object_get(u, "available"), avail, sizeof(avail));
	int n = snprintf(buf, len, "%s addresses, %s available (%.1f%% used)", total, avail,
			 json_number_value(json_object_get(u, "used_pct")));
	if (n < 0 || (size_t)n >= len)
		return;
	if (json_is_object(lf)) {
		count_format(json_object_get(lf, "size"), size, sizeof(size));
		snprintf(buf + n, len - (size_t)n, ", largest free block %s-%s (%s)",
			 json_string_value(json_object_get(lf, "start")), json_string_value(json_object_get(lf, "end")),
			 size);
	} else {
		snprintf(buf + n, len - (size_t)n, ", no free block");
	}
}
